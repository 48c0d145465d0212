"""Runs a set of scenarios against one script and reports: terminal lines, JSON, JUnit XML.

A failing run is explained the same way everywhere (the terminal, the pytest items, the gate):
its first cause first (harness/scenarios/causes.py), then every broken expectation and
invariant, each with its id, then the command that replays it.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

from ..mac.config import HARNESS_VERSION
from ..mac.confine import remove_tree, temporary_folder
from ..mac.snapshot import keep_on_host
from ..scenarios import Scenario, ScenarioRun, run_scenario, script_identity
from ..scenarios.build import SESSIONS
from .html import write_run_page, write_suite_index
from .report import timeline

#: The title of a suite's index when an interruption cut it short.
PARTIAL_TITLE = "scenarios (interrupted: partial)"


def replay_command(run: ScenarioRun, script: Path, seed: int | None, *extra: str) -> str:
    used_seed = run.scenario.seed if seed is None else seed
    driver = run.scenario.start.driver_given
    return " ".join(["macsim run --script", str(script), "--claims", run.claims, "--seed", str(used_seed),
                     *(["--driver", str(driver)] if driver is not None else []), *extra, str(run.scenario.path)])


def crash_options(step: int | None, changes: int | None, tears: dict[str, str]) -> list[str]:
    """The command-line options of a power cut, as a replay command repeats them."""
    if step is None:
        return []
    found = ["--power-loss-at-step", str(step)] + (["--after-changes", str(changes)] if changes else [])
    for path, mode in tears.items():
        found += ["--tear", path] + (["--tear-mode", mode] if mode != "empty" else [])
    return found


def explain(run: ScenarioRun, script: Path, seed: int | None, *crash: str) -> list[str]:
    """A failing run, for a reader who stops after the first line: its first cause, then each
    violation with the id of what it broke, then how to replay it (`crash`: the options of the
    power cut it was run with)."""
    lines = []
    if run.first_cause is not None:
        lines.append(f"first cause: {run.first_cause.render()}")
    lines += [f"[{violation.invariant}] {violation.message}" for violation in run.violations]
    lines.append(f"replay: {replay_command(run, script, seed, *crash, '--timeline')}")
    return lines


def run_suite(scenarios: list[Scenario], script: Path, *, seed: int | None, traces: Path,
              show_timeline: bool, keep_disks: Path | None = None, claims: str = "reboot-survivable",
              power_loss_at_step: int | None = None, tears: dict[str, str] | None = None,
              output_lines: int = 20, macs: Path | None = None,
              runs: list[ScenarioRun] | None = None, after_changes: int | None = None) -> list[ScenarioRun]:
    """Runs each scenario on a fresh Mac, printing one line per scenario as it ends; a failing
    one is explained, with the last `output_lines` lines its script printed. Each Mac's folder
    is in `macs` (else a temporary folder) and removed once judged; with `keep_disks`, it is
    left in `keep_disks/NAME` instead. Each finished run is added to `runs` as it ends: what
    an interruption leaves to report. `power_loss_at_step` (and `after_changes`, `tears`) cut
    the power as a crash point of `macsim explore` does."""
    content = script.read_bytes()
    crash = crash_options(power_loss_at_step, after_changes, tears or {})
    runs = [] if runs is None else runs
    print(f"macsim {HARNESS_VERSION}: {len(scenarios)} scenario(s) against {script} "
          f"(sha256 {script_identity(script)['sha256'][:12]}, claims {claims})")
    for number, scenario in enumerate(scenarios, 1):
        started = time.monotonic()
        with _mac_folder(macs, keep_disks, scenario.name) as work:  # its outputs are read before it goes
            run = run_scenario(scenario, content, script.name, work, seed=seed,
                               trace_path=traces / f"{scenario.name}.trace.jsonl", claims=claims,
                               power_loss_at_step=power_loss_at_step, tears=tears, after_changes=after_changes)
            wall_s = time.monotonic() - started
            counter = f"[{number}/{len(scenarios)}]"
            if run.verdict == "not-applicable":
                print(f"{counter} N/A   {scenario.name}: binds {scenario.applies_to} bootstraps; "
                      f"the script claims {claims}")
            else:
                result = run.result
                print(f"{counter} {run.verdict.upper():5} {scenario.name}: {result.verdict.value}, {result.boots} "
                      f"boots, {result.steps} steps, {result.simulated_s:g} s simulated, {wall_s:.1f} s real")
                if run.verdict != "pass":
                    print("\n".join(f"        {line}" for line in explain(run, script, seed, *crash)))
                    print("\n".join(f"        {line}" for line in last_output(run, output_lines)))
                if show_timeline:
                    print(timeline(result.trace.events))
        runs.append(run)
    print(summary_line(runs))
    return runs


@contextlib.contextmanager
def _mac_folder(macs: Path | None, keep_disks: Path | None, name: str) -> Iterator[Path]:
    """Where one scenario's Mac lives while it runs: kept on the host's disk afterwards (its
    disk copied out of its tmpfs) under `keep_disks`, else removed, interrupted or not."""
    if keep_disks is not None:
        try:
            yield keep_disks / name
        finally:
            keep_on_host(keep_disks / name)
    elif macs is not None:
        try:
            yield macs / name
        finally:
            remove_tree(macs / name)
    else:
        with temporary_folder("macsim-sc-") as work:
            yield work / "mac"


def mark_partial(suite: ElementTree.Element) -> None:
    """A JUnit suite cut short by an interruption: a property says so (JUnit has no word for it)."""
    properties = ElementTree.SubElement(suite, "properties")
    ElementTree.SubElement(properties, "property", name="partial", value="interrupted: the finished runs only")


def last_output(run: ScenarioRun, count: int) -> list[str]:
    """The last lines the started script printed (its session's output, as MDM keeps it)."""
    session = SESSIONS.get(run.scenario.start.how)
    lines = run.machine.output(session).rstrip("\n").splitlines() if session and count > 0 else []
    if not lines:
        return []
    shown = lines[-count:]
    return [f"output of the {session} ({len(shown)} of {len(lines)} lines):", *(f"  | {line}" for line in shown)]


def summary_line(runs: list[ScenarioRun]) -> str:
    counts = {verdict: sum(run.verdict == verdict for run in runs) for verdict in ("pass", "fail", "error",
                                                                                  "not-applicable")}
    line = f"{counts['pass']} passed, {counts['fail'] + counts['error']} failed"
    return line + (f", {counts['not-applicable']} not applicable" if counts["not-applicable"] else "")


def run_page(report: Path, run: ScenarioRun, script: Path, seed: int | None, *, name: str | None = None,
             replay: str | None = None) -> str | None:
    """Writes the run's HTML page into `report`; its file name (None: the scenario did not run)."""
    if run.result is None:
        return None
    result = run.result
    page = write_run_page(
        report, name=name or run.scenario.name, events=result.trace.events, verdict=run.verdict,
        violations=[v.to_json() for v in run.violations],
        first_cause=run.first_cause.to_json() if run.first_cause else None,
        script_name=script.name, script_text=script.read_text(encoding="utf-8", errors="replace"),
        replay=replay or replay_command(run, script, seed, "--timeline"),
        summary=f"{run.scenario.summary} ({result.verdict.value}, {result.boots} boots, {result.steps} steps)")
    return page.name


def index_row(run: ScenarioRun, page: str | None) -> dict:
    """A run as an index page lists it."""
    return {"name": run.scenario.name, "verdict": run.verdict, "summary": run.scenario.summary, "page": page,
            "first_cause": run.first_cause.to_json() if run.first_cause else None,
            "violations": [v.to_json() for v in run.violations]}


def write_report(report: Path, runs: list[ScenarioRun], script: Path, seed: int | None, claims: str,
                 partial: bool = False) -> Path:
    """A page per run and the suite's index.html (failing runs first); `partial`: interrupted,
    these are the runs that had finished."""
    rows = [index_row(run, run_page(report, run, script, seed)) for run in runs]
    return write_suite_index(report, rows, script={**script_identity(script), "claims": claims},
                             title=PARTIAL_TITLE if partial else "scenarios")


def run_json(run: ScenarioRun) -> dict:
    """One run as the JSON reports hold it."""
    document = {"name": run.scenario.name, "file": str(run.scenario.path), "applies_to": run.scenario.applies_to,
                "verdict": run.verdict}
    if run.result is not None:
        document.update(run_verdict=run.result.verdict.value,
                        first_cause=run.first_cause.to_json() if run.first_cause else None,
                        violations=[v.to_json() for v in run.violations], boots=run.result.boots,
                        steps=run.result.steps, trace=str(run.trace_path))
    return document


def write_json(path: Path, runs: list[ScenarioRun], script: Path, seed: int | None, claims: str,
               partial: bool = False) -> None:
    """`partial`: interrupted, `scenarios` holds the runs that had finished."""
    document = {"script": script_identity(script), "claims": claims, "seed": seed,
                "harness_version": HARNESS_VERSION, "partial": partial, "scenarios": [run_json(run) for run in runs]}
    path.write_text(json.dumps(document, indent=2) + "\n")


def junit_case(suite: ElementTree.Element, run: ScenarioRun, classname: str, explanation: list[str],
               trace: Path | None) -> None:
    """One run as a JUnit test case: skipped when it does not apply, failed with its first cause."""
    case = ElementTree.SubElement(suite, "testcase", classname=classname, name=run.scenario.name,
                                  file=str(run.scenario.path))
    if run.verdict == "not-applicable":
        ElementTree.SubElement(case, "skipped", message=f"binds {run.scenario.applies_to} bootstraps; "
                                                        f"the script claims {run.claims}")
    elif run.verdict != "pass":
        tag = "failure" if run.verdict == "fail" else "error"
        headline = run.first_cause.render() if run.first_cause else run.violations[0].message
        detail = ElementTree.SubElement(case, tag, message=headline)
        detail.text = "\n".join(explanation) + f"\ntrace: {trace}"


def write_junit(path: Path, runs: list[ScenarioRun], script: Path, seed: int | None, partial: bool = False) -> None:
    suite = ElementTree.Element("testsuite", name=f"macsim {script}", tests=str(len(runs)),
                                failures=str(sum(run.verdict == "fail" for run in runs)),
                                errors=str(sum(run.verdict == "error" for run in runs)),
                                skipped=str(sum(run.verdict == "not-applicable" for run in runs)))
    if partial:
        mark_partial(suite)
    for run in runs:
        explanation = explain(run, script, seed) if run.verdict in ("fail", "error") else []
        junit_case(suite, run, "macsim.scenarios", explanation, run.trace_path)
    ElementTree.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
