"""A conformance run as a JSON document: what each probe printed, on which Mac, when.

The simulator (`macsim conformance run --json`) and the bundle on a real Mac write the same
document:

    {"schema": "macsim-conformance/1",
     "side": "real" | "simulator",
     "date": "2025-06-02T04:17:00Z",
     "platform": {"product_version": "15.5", "build_version": "24F74", "kernel_release": "24.5.0",
                  "arch": "arm64", "runner": "bundle" | "macsim 0.1.0"},
     "results": [{"probe": ID, "status": "observed" | "skipped" | "error",
                  "output": "<the probe's JSON line>", "reason": "<why skipped or failed>"}],
     "leftovers": ["<override-database lines the bundle could not remove>"]}

A probe's line is kept as text and parsed here, so one probe that printed something broken
spoils its own result and not the whole run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = "macsim-conformance/1"
SIDES = ("real", "simulator")
STATUSES = ("observed", "skipped", "error")


class InputError(ValueError):
    """Bad input from the user (a file missing, not JSON, not this schema): exit code 2."""


@dataclass(frozen=True)
class Result:
    probe: str
    status: str  # one of STATUSES
    output: str = ""
    reason: str = ""

    def observation(self) -> dict | None:
        """The probe's observation, or None when it did not print a well-formed one."""
        if self.status != "observed":
            return None
        try:
            data = json.loads(self.output)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("probe") != self.probe:
            return None
        return {k: v for k, v in data.items() if k != "probe"}

    def problem(self) -> str:
        """Why there is no observation ("" when there is one)."""
        if self.status != "observed":
            return self.reason or self.status
        if self.observation() is None:
            shown = self.output if len(self.output) <= 200 else self.output[:200] + "…"
            return f"the probe printed no well-formed observation: {shown!r}"
        return ""


@dataclass(frozen=True)
class Run:
    side: str
    date: str
    platform: dict
    results: tuple[Result, ...]
    leftovers: tuple[str, ...] = field(default=())

    def result(self, probe: str) -> Result | None:
        return next((r for r in self.results if r.probe == probe), None)

    def describe_platform(self) -> str:
        """`macOS 15.5 (24F74)`, as the table names the Mac a run was on."""
        version = self.platform.get("product_version", "?")
        build = self.platform.get("build_version", "?")
        return f"macOS {version} ({build})"

    def to_json(self) -> str:
        return json.dumps({
            "schema": SCHEMA, "side": self.side, "date": self.date, "platform": self.platform,
            "results": [{"probe": r.probe, "status": r.status, "output": r.output, "reason": r.reason}
                        for r in self.results],
            "leftovers": list(self.leftovers)}, indent=1, ensure_ascii=False) + "\n"


def load_run(path: Path, *, side: str | None = None) -> Run:
    """Reads a run document; InputError says what is wrong, where, and how to fix it."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give the JSON that `macsim conformance run --json FILE` "
                         f"or the bundle (`sudo bash bundle.sh > real.json`) wrote") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error}); give a UTF-8 JSON file") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        first = text.strip().splitlines()[0][:80] if text.strip() else "(empty)"
        raise InputError(f"{path}: not JSON ({error}); it begins {first!r}. Expected the document "
                         f"`macsim conformance run --json` or the bundle prints; if the bundle "
                         f"failed, its messages are on its stderr") from None
    where = str(path)
    _require(isinstance(data, dict), where, "the top level", "an object", data)
    _require(data.get("schema") == SCHEMA, where, "schema", repr(SCHEMA), data.get("schema"),
             "regenerate the file with this version of macsim")
    _require(data.get("side") in SIDES, where, "side", " or ".join(map(repr, SIDES)), data.get("side"))
    if side is not None:
        _require(data["side"] == side, where, "side", repr(side), data["side"],
                 "the real Mac's file comes first, then the simulator's: compare REAL.json SIM.json")
    _require(isinstance(data.get("date"), str), where, "date", "a string", data.get("date"))
    _require(isinstance(data.get("platform"), dict), where, "platform", "an object", data.get("platform"))
    _require(isinstance(data.get("results"), list), where, "results", "a list", data.get("results"))
    leftovers = data.get("leftovers", [])
    _require(isinstance(leftovers, list) and all(isinstance(x, str) for x in leftovers), where,
             "leftovers", "a list of strings", leftovers)
    results = []
    seen = set()
    for index, entry in enumerate(data["results"]):
        at = f"results[{index}]"
        _require(isinstance(entry, dict), where, at, "an object", entry)
        _require(isinstance(entry.get("probe"), str) and entry["probe"], where, f"{at}.probe",
                 "a probe id", entry.get("probe"))
        _require(entry["probe"] not in seen, where, f"{at}.probe", "each probe once", entry["probe"])
        seen.add(entry["probe"])
        _require(entry.get("status") in STATUSES, where, f"{at}.status", " or ".join(STATUSES),
                 entry.get("status"))
        for key in ("output", "reason"):
            _require(isinstance(entry.get(key, ""), str), where, f"{at}.{key}", "a string", entry.get(key))
        results.append(Result(entry["probe"], entry["status"], entry.get("output", ""), entry.get("reason", "")))
    return Run(data["side"], data["date"], data["platform"], tuple(results), tuple(leftovers))


def _require(ok: bool, where: str, key: str, expected: str, got: object, fix: str = "") -> None:
    if not ok:
        shown = repr(got)
        shown = shown if len(shown) <= 80 else shown[:80] + "…"
        hint = fix or "regenerate the file with `macsim conformance run --json` or the bundle"
        raise InputError(f"{where}: {key}: expected {expected}, got {shown}; {hint}")
