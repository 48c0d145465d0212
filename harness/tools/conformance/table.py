"""The conformance table (docs/conformance.md, a CI job's summary) and the terminal lines.

One row per probe: the behaviour, its source, what the source expects, what the simulator
did, and what a real Mac did, or "not yet confirmed on a real Mac".
"""
from __future__ import annotations

from .compare import AGREE, DIFFER, ERROR, KNOWN, SKIPPED, KnownDifference, Verdict
from .results import Run

NOT_CONFIRMED = "not yet confirmed on a real Mac"
MACOS_BEHAVIOUR = "[macos-behaviour.md](../../shared/reference/macos-behaviour.md)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _known(entries: tuple[KnownDifference, ...]) -> str:
    return "; ".join(f"known {e.kind}: {e.reason}" for e in entries)


def simulator_cell(verdict: Verdict) -> str:
    if verdict.outcome == AGREE:
        return "as documented"
    if verdict.outcome == KNOWN and verdict.fields == ("*",):
        return f"{verdict.detail}; {_known(verdict.known)}"
    if verdict.outcome == KNOWN:
        return f"differs ({', '.join(verdict.fields)}), {_known(verdict.known)}"
    if verdict.outcome == DIFFER:
        return f"**differs from the document**: {verdict.detail}"
    if verdict.outcome == SKIPPED:
        return f"skipped: {verdict.detail}"
    return f"**error**: {verdict.detail}"


def real_cell(verdict: Verdict | None, real: Run | None, contradicted: list | None) -> str:
    if verdict is None or real is None:
        return NOT_CONFIRMED
    where = f"{real.date[:10]}, {real.describe_platform()}"
    if verdict.outcome == AGREE:
        text = f"agrees with the simulator ({where})"
    elif verdict.outcome == KNOWN:
        text = f"differs as known ({', '.join(verdict.fields)}; {where})"
    elif verdict.outcome == DIFFER:
        text = f"**differs from the simulator** ({where}): {verdict.detail}"
    elif verdict.outcome == SKIPPED:
        text = f"skipped: {verdict.detail} ({where}); {NOT_CONFIRMED}"
    else:
        text = f"**error** ({where}): {verdict.detail}"
    if contradicted:
        text += "; **the real Mac contradicts the document**: " + "; ".join(e.describe() for e in contradicted)
    return text


INTRODUCTION = f"""\
# Conformance: the simulated Mac against a real one

Everything macsim concludes about a bootstrap rests on the simulated Mac behaving like a real
one. The conformance suite checks that: small bash probes in `harness/tools/conformance/probes/`,
each observing one behaviour a bootstrap relies on and printing what it saw as one JSON line.
Each probe's header names its source (§ = a section of {MACOS_BEHAVIOUR}) and what that source
expects. The same probes run in the simulator and, as root, on a real Mac; this page is
generated from those runs: do not edit it by hand.

## Running it

```sh
macsim conformance run [--json sim.json] [--markdown docs/conformance.md]   # in the simulator
macsim conformance bundle -o bundle.sh        # one self-contained bash 3.2 script
sudo bash bundle.sh > real.json               # on a Mac, as root; leaves nothing loaded or behind
macsim conformance run --like real.json --json sim.json   # simulate that Mac's macOS version
macsim conformance compare real.json sim.json --markdown docs/conformance.md
```

`run` exits 1 when a simulated observation misses its documented expectation and the
difference is not on the known list below; `compare` exits 1 when the real Mac and the
simulator disagree on something not on that list. Both exit 2 on bad input. Probes that need a
reboot run in the simulator (their second phase is a LaunchDaemon at the next boot) and are
skipped by the bundle, which must not restart the Mac it runs on. `.github/workflows/conformance.yml`
runs the bundle on GitHub's macOS 15 arm64 runner weekly and on changes to the simulator, and
publishes this table as the job's summary and an artifact.

A probe (`probes/*.sh`) is a bash 3.2 file with a TOML header in comments (its id, behaviour,
source, whether it reboots, and `[expect]`); `probes/lib.bash` gives it `observe`,
`observe_run`, `observe_flag`, `wait_until` and the clean-up of its labels (prefix
`org.macsim.probe.`) and files. It records, it does not judge: the expectations are checked in
Python.
"""


def markdown(checks: list[Verdict], *, simulated: Run, known: list[KnownDifference],
             real: Run | None = None, comparison: list[Verdict] | None = None,
             contradictions: dict | None = None) -> str:
    """docs/conformance.md: the introduction, the table, and the known differences."""
    by_probe = {v.probe.id: v for v in comparison or []}
    if real is None:
        provenance = (f"Simulator run of {simulated.date} ({simulated.platform.get('runner', 'macsim')}, "
                      f"simulating {simulated.describe_platform()}); no real Mac run yet.")
    else:
        provenance = (f"Real Mac run of {real.date} ({real.describe_platform()}, "
                      f"{real.platform.get('arch', '?')}) against the simulator run of {simulated.date} "
                      f"(simulating {simulated.describe_platform()}).")
        if real.leftovers:
            provenance += (" Override-database entries the bundle could not remove: "
                           + ", ".join(f"`{x}`" for x in real.leftovers) + ".")
    lines = [INTRODUCTION, "## The table", "", provenance, "",
             "| Probe | Behaviour | Source | Expected | Simulator | Real Mac |",
             "|---|---|---|---|---|---|"]
    for check in checks:
        probe = check.probe
        source = ", ".join(probe.sources) + ("; needs a reboot" if probe.reboot else "")
        expected = "; ".join(e.describe() for e in probe.expect)
        real_text = real_cell(by_probe.get(probe.id), real, (contradictions or {}).get(probe.id))
        lines.append("| " + " | ".join(_cell(t) for t in (
            f"`{probe.id}`", probe.behaviour, source, expected, simulator_cell(check), real_text)) + " |")
    lines += ["", "## Known differences", "",
              "From `harness/tools/conformance/known_differences.toml`: a *gap* is a difference "
              "macsim accepts today; a *bug* is one this suite found, listed until it is fixed.", "",
              "| Probe | Fields | Kind | Reason |", "|---|---|---|---|"]
    for entry in known:
        lines.append("| " + " | ".join(_cell(t) for t in (
            f"`{entry.probe}`", ", ".join(entry.fields), entry.kind, entry.reason)) + " |")
    return "\n".join(lines) + "\n"


def summary_line(verdicts: list[Verdict]) -> str:
    """`14 agree, 3 known differences, 1 differ, 2 skipped, 0 errors`."""
    count = {o: sum(v.outcome == o for v in verdicts) for o in (AGREE, KNOWN, DIFFER, SKIPPED, ERROR)}
    return (f"{count[AGREE]} agree, {count[KNOWN]} known difference(s), {count[DIFFER]} differ, "
            f"{count[SKIPPED]} skipped, {count[ERROR]} error(s)")


def terminal_line(verdict: Verdict) -> str:
    tag = {AGREE: "agree", KNOWN: "known", DIFFER: "DIFFER", SKIPPED: "skip", ERROR: "ERROR"}[verdict.outcome]
    text = f"{tag:<6} {verdict.probe.id}"
    if verdict.outcome == KNOWN:
        text += ": " + "; ".join(
            f"{e.kind}: {', '.join(f for f in verdict.fields if e.covers(f))}" for e in verdict.known)
    elif verdict.outcome != AGREE:
        text += f": {verdict.detail}"
    return text
