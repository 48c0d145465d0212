"""Judging observations: the simulator against the document, and a real Mac against the simulator.

`check_run` holds each simulated observation to its probe's expectation (the facts of
macos-behaviour.md). `compare_runs` sets a real Mac's observation beside the simulator's,
field by field. Both accept what `known_differences.toml` lists, and say so, with its reason.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .probes import Expectation, Probe
from .results import InputError, Result, Run

KNOWN_DIFFERENCES = Path(__file__).with_name("known_differences.toml")
KINDS = ("gap", "bug")
AGREE, DIFFER, KNOWN, SKIPPED, ERROR = "agree", "differ", "known difference", "skipped", "error"
#: Outcomes that make `run` and `compare` exit 1.
FAILING = (DIFFER, ERROR)


@dataclass(frozen=True)
class KnownDifference:
    probe: str
    fields: tuple[str, ...]  # ("*",): the whole probe
    kind: str  # one of KINDS
    reason: str

    def covers(self, field: str) -> bool:
        return "*" in self.fields or field in self.fields


class KnownDifferences:
    """The checked-in list of differences macsim accepts today."""

    def __init__(self, entries: list[KnownDifference]) -> None:
        self.entries = entries

    @classmethod
    def load(cls, path: Path = KNOWN_DIFFERENCES, probes: list[Probe] | None = None) -> "KnownDifferences":
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: no such file; give a known-differences TOML file "
                             f"(the default is {KNOWN_DIFFERENCES})") from None
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{path}: not TOML ({error})") from None
        ids = {p.id for p in probes} if probes is not None else None
        entries = []
        for index, entry in enumerate(data.get("difference", [])):
            where = f"{path}: difference[{index}]"
            if not isinstance(entry, dict) or set(entry) != {"probe", "fields", "kind", "reason"}:
                raise InputError(f"{where}: expected the keys probe, fields, kind, reason; got "
                                 f"{sorted(entry) if isinstance(entry, dict) else entry!r}")
            if ids is not None and entry["probe"] not in ids:
                raise InputError(f"{where}: probe {entry['probe']!r} is not a probe; expected one of "
                                 f"{sorted(ids)}; remove the entry or fix its name")
            fields = entry["fields"]
            if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
                raise InputError(f"{where}: fields: expected a list of observation fields (or [\"*\"]), got {fields!r}")
            if entry["kind"] not in KINDS:
                raise InputError(f"{where}: kind: expected one of {KINDS}, got {entry['kind']!r}")
            if not isinstance(entry["reason"], str) or not entry["reason"].strip():
                raise InputError(f"{where}: reason: every known difference says why macsim differs")
            entries.append(KnownDifference(entry["probe"], tuple(fields), entry["kind"], entry["reason"]))
        return cls(entries)

    def for_probe(self, probe: str) -> list[KnownDifference]:
        return [e for e in self.entries if e.probe == probe]

    def explaining(self, probe: str, fields: list[str]) -> list[KnownDifference] | None:
        """The entries that together cover every field, or None when one is not covered."""
        entries = self.for_probe(probe)
        used = []
        for field in fields:
            entry = next((e for e in entries if e.covers(field)), None)
            if entry is None:
                return None
            if entry not in used:
                used.append(entry)
        return used


@dataclass(frozen=True)
class Verdict:
    """One probe's outcome on one comparison."""

    probe: Probe
    outcome: str  # AGREE, DIFFER, KNOWN, SKIPPED or ERROR
    fields: tuple[str, ...] = ()  # the fields that differ
    detail: str = ""  # what differs, why skipped or failed
    known: tuple[KnownDifference, ...] = ()

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING


def _known_or_differ(probe: Probe, fields: list[str], detail: str, known: KnownDifferences) -> Verdict:
    entries = known.explaining(probe.id, fields)
    if entries is None:
        return Verdict(probe, DIFFER, tuple(fields), detail)
    return Verdict(probe, KNOWN, tuple(fields), detail, tuple(entries))


def _missing(probe: Probe, result: Result | None, known: KnownDifferences, side: str) -> Verdict | None:
    """The verdict when a side has no observation for the probe, else None."""
    if result is None:
        return Verdict(probe, SKIPPED, detail=f"not run on the {side}")
    if result.status == "skipped":
        return Verdict(probe, SKIPPED, detail=result.reason or "skipped")
    if result.observation() is None:
        whole = [e for e in known.for_probe(probe.id) if "*" in e.fields]
        detail = f"{side}: {result.problem()}"
        if whole:
            return Verdict(probe, KNOWN, ("*",), detail, tuple(whole))
        return Verdict(probe, ERROR, detail=detail)
    return None


def check_probe(probe: Probe, result: Result | None, known: KnownDifferences) -> Verdict:
    """A simulated observation against its probe's documented expectation."""
    missing = _missing(probe, result, known, "simulator")
    if missing is not None:
        return missing
    observation = result.observation()
    failed = probe.failures(observation)
    if not failed:
        return Verdict(probe, AGREE)
    detail = "; ".join(f"expected {e.describe()}, observed {_value(observation, e.field)}" for e in failed)
    return _known_or_differ(probe, [e.field for e in failed], detail, known)


def check_run(probes: list[Probe], run: Run, known: KnownDifferences) -> list[Verdict]:
    return [check_probe(p, run.result(p.id), known) for p in probes]


def _agree_on(expectation: Expectation | None, real: object, simulated: object) -> bool:
    if real == simulated and type(real) is type(simulated):
        return True
    # A documented range is a tolerance: one second more of real time is not a difference.
    return (expectation is not None and expectation.check == "range"
            and expectation.holds(real) and expectation.holds(simulated))


def compare_probe(probe: Probe, real: Result | None, simulated: Result | None,
                  known: KnownDifferences) -> Verdict:
    """A real Mac's observation against the simulator's, field by field."""
    for side, result in (("real Mac", real), ("simulator", simulated)):
        missing = _missing(probe, result, known, side)
        if missing is not None:
            return missing
    real_obs, sim_obs = real.observation(), simulated.observation()
    differing = [f for f in sorted(set(real_obs) | set(sim_obs))
                 if f not in real_obs or f not in sim_obs
                 or not _agree_on(probe.expectation(f), real_obs[f], sim_obs[f])]
    if not differing:
        return Verdict(probe, AGREE)
    detail = "; ".join(f"{f}: real {_value(real_obs, f)}, simulator {_value(sim_obs, f)}" for f in differing)
    return _known_or_differ(probe, differing, detail, known)


def compare_runs(probes: list[Probe], real: Run, simulated: Run, known: KnownDifferences) -> list[Verdict]:
    return [compare_probe(p, real.result(p.id), simulated.result(p.id), known) for p in probes]


def stale(known: KnownDifferences, verdicts: list[Verdict]) -> list[KnownDifference]:
    """Entries that no verdict needed: the difference is gone and the entry can go too."""
    used = {id(e) for v in verdicts for e in v.known}
    judged = {v.probe.id for v in verdicts if v.outcome != SKIPPED}
    return [e for e in known.entries if id(e) not in used and e.probe in judged]


def contradictions(probes: list[Probe], run: Run) -> dict[str, list[Expectation]]:
    """Per probe, the documented expectations a (real) run does not meet: facts to re-check."""
    found = {}
    for probe in probes:
        result = run.result(probe.id)
        observation = result.observation() if result else None
        if observation is not None and probe.failures(observation):
            found[probe.id] = probe.failures(observation)
    return found


def _value(observation: dict, field: str) -> str:
    if field not in observation:
        return "(absent)"
    value = observation[field]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 160 else value[:160] + "…"
        return '"' + shown.replace("\n", "\\n").replace("\t", "\\t") + '"'
    return str(value)
