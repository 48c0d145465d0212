"""The pull-request gate: every scenario against a base script and a head script, same Mac, same seed.

Each scenario is classified by what the head does compared with the base:

- `pass`: the head passes (the base too, or the scenario does not bind the base);
- `fixed`: the base fails, the head passes;
- `regressed`: the base passes, the head fails;
- `still-failing`: both fail (`same cause` when their first causes agree);
- `failing`: the head fails a scenario that does not bind the base (a new claim not met);
- `not-applicable`: the scenario does not bind what the head claims.

What each script claims (fleet.CONTRACTS) is said on the command line, never guessed from its
text. The gate fails (exit 1) when a scenario regressed, or when a scenario named by `--require`
does not pass on the head (a pull request that claims the test plan); else it passes (0).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from ..errors import Interrupted
from ..fleet import CONTRACTS, binds
from ..mac.config import HARNESS_VERSION
from ..mac.confine import temporary_folder
from ..scenarios import (DEFAULT_SCRIPT, Scenario, ScenarioError, ScenarioRun, format_error, load_scenarios,
                         run_scenario, script_identity)
from ..scenarios.schema import with_driver
from .html import write_gate_index
from . import runs as runs_tool
from .options import add_safety_options, capped, empty_dir, not_existing, script_path
from .suite import explain, mark_partial, replay_command, run_json, run_page

CLASSES = ("regressed", "failing", "still-failing", "fixed", "pass", "not-applicable")
DEFAULT_SCENARIOS = DEFAULT_SCRIPT.parents[1] / "scenarios"


@dataclass(frozen=True)
class Side:
    """One of the two scripts: its file and what it claims."""

    script: Path
    claims: str

    def identity(self) -> dict:
        return {**script_identity(self.script), "claims": self.claims}


@dataclass
class Row:
    scenario: Scenario
    base: ScenarioRun
    head: ScenarioRun
    required: bool = False

    @property
    def kind(self) -> str:
        head, base = self.head.verdict, self.base.verdict
        if head == "not-applicable":
            return "not-applicable"
        if head == "pass":
            return "fixed" if base in ("fail", "error") else "pass"
        if base == "not-applicable":
            return "failing"
        return "regressed" if base == "pass" else "still-failing"

    @property
    def same_cause(self) -> bool:
        """Both failed first for the same reason (its kind and text; script lines differ)."""
        a, b = self.base.first_cause, self.head.first_cause
        return a is not None and b is not None and (a.kind, a.text) == (b.kind, b.text)

    @property
    def required_failure(self) -> bool:
        return self.required and self.head.verdict != "pass"

    @property
    def blocks(self) -> bool:
        return self.kind == "regressed" or self.required_failure

    def label(self) -> str:
        text = self.kind
        if self.kind == "still-failing":
            text += " (same first cause)" if self.same_cause else " (another first cause)"
        return text + (", required" if self.required_failure else "")


@dataclass
class Gate:
    base: Side
    head: Side
    seed: int | None
    rows: list[Row] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # --require patterns no scenario has
    partial: bool = False  # interrupted: the rows are the scenarios that had finished

    @property
    def exit_code(self) -> int:
        return 1 if any(row.blocks for row in self.rows) or self.unmatched else 0

    def counts(self) -> dict[str, int]:
        return {kind: sum(row.kind == kind for row in self.rows) for kind in CLASSES}


def run_gate(scenarios: list[Scenario], base: Side, head: Side, *, require: list[str], seed: int | None,
             traces: Path, progress=sys.stdout) -> Gate:
    """Runs every scenario against both scripts and classifies it."""
    gate = Gate(base, head, seed)
    gate.unmatched = [pattern for pattern in require
                      if not any(fnmatch.fnmatchcase(s.name, pattern) for s in scenarios)]
    print(f"macsim {HARNESS_VERSION} gate: {len(scenarios)} scenario(s); base {base.script} claims {base.claims}, "
          f"head {head.script} claims {head.claims}", file=progress)
    try:
        for number, scenario in enumerate(scenarios, 1):
            runs = [_run(scenario, side, name, seed, traces) for side, name in ((base, "base"), (head, "head"))]
            row = Row(scenario, *runs, required=any(fnmatch.fnmatchcase(scenario.name, p) for p in require))
            gate.rows.append(row)
            print(f"[{number}/{len(scenarios)}] {row.label():<40} {scenario.name}", file=progress, flush=True)
    except Interrupted as stop:
        gate.partial = True
        stop.gate = gate  # what had finished, for the reports
        raise
    return gate


def _run(scenario: Scenario, side: Side, name: str, seed: int | None, traces: Path) -> ScenarioRun:
    if not binds(scenario.applies_to, side.claims):
        return ScenarioRun(scenario, "not-applicable", claims=side.claims)
    with temporary_folder("macsim-gate-") as work:
        return run_scenario(scenario, side.script.read_bytes(), side.script.name, work / "mac", seed=seed,
                            trace_path=traces / f"{scenario.name}.{name}.trace.jsonl", claims=side.claims)


def _ordered(gate: Gate) -> list[Row]:
    """What blocks first, then by class, then by name."""
    return sorted(gate.rows, key=lambda row: (not row.blocks, CLASSES.index(row.kind), row.scenario.name))


def headline(gate: Gate) -> str:
    counts = gate.counts()
    required = sum(row.required_failure for row in gate.rows)
    parts = [f"{counts['regressed']} regressed", f"{required} required failing", f"{counts['fixed']} fixed",
             f"{counts['still-failing']} still failing", f"{counts['failing']} failing (new)",
             f"{counts['pass']} passing", f"{counts['not-applicable']} not applicable"]
    verdict = "FAILED" if gate.exit_code else "passed"
    cut = f" (interrupted: {len(gate.rows)} scenario(s) finished, partial)" if gate.partial else ""
    return f"macsim gate {verdict}{cut}: " + ", ".join(parts)


def render(gate: Gate) -> str:
    """The terminal report: each blocking scenario's first cause, then the rest by class."""
    lines = [headline(gate)]
    for pattern in gate.unmatched:
        lines.append(f"  --require {pattern}: no scenario has that name")
    for row in _ordered(gate):
        if row.kind in ("pass", "not-applicable") and not row.required_failure:
            continue
        lines.append(f"  {row.label()}: {row.scenario.name}")
        if row.head.verdict in ("fail", "error"):
            lines += [f"    {line}" for line in explain(row.head, gate.head.script, gate.seed)]
    return "\n".join(lines)


def _cell(run: ScenarioRun, page: str | None = None) -> str:
    text = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "not-applicable": "n/a"}[run.verdict]
    if page is None:
        return text
    return f"[{text}]({page}#first-cause)" if run.verdict in ("fail", "error") else f"[{text}]({page})"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def markdown(gate: Gate, pages: dict[str, dict[str, str | None]] | None = None) -> str:
    """What a GitHub job summary shows: a table, then each regression and required failure with
    its first cause and the command that replays it. With `pages` (scenario -> side -> path of
    its HTML page, relative to the summary), each verdict links to its page."""
    pages = pages or {}
    lines = [f"## {headline(gate)}", ""]
    for side, name in ((gate.base, "base"), (gate.head, "head")):
        identity = script_identity(side.script)
        lines.append(f"- {name}: {_code(str(side.script))} (sha256 {identity['sha256'][:12]}), claims "
                     f"{_code(side.claims)}")
    lines += [f"- seed: {'each scenario' + chr(39) + 's own' if gate.seed is None else gate.seed}, "
              f"macsim {HARNESS_VERSION}", ""]
    for pattern in gate.unmatched:
        lines.append(f"- **--require {_code(pattern)}**: no scenario has that name")
    lines += ["| scenario | base | head | result |", "|---|---|---|---|"]
    for row in _ordered(gate):
        result = f"**{row.label()}**" if row.blocks else row.label()
        linked = pages.get(row.scenario.name, {})
        lines.append(f"| {row.scenario.name} | {_cell(row.base, linked.get('base'))} | "
                     f"{_cell(row.head, linked.get('head'))} | {result} |")
    for row in _ordered(gate):
        if not row.blocks or row.head.verdict not in ("fail", "error"):
            continue
        lines += ["", f"### {row.scenario.name}: {row.label()}", "", row.scenario.summary, ""]
        if row.head.first_cause is not None:
            lines += [f"**First cause**: {row.head.first_cause.render()}", ""]
        lines += [f"- [{v.invariant}] {v.message}" for v in row.head.violations]
        lines += ["", "Replay: " + _code(replay_command(row.head, gate.head.script, gate.seed, "--timeline"))]
    return "\n".join(lines) + "\n"


def to_json(gate: Gate) -> dict:
    return {"harness_version": HARNESS_VERSION, "base": gate.base.identity(), "head": gate.head.identity(),
            "seed": gate.seed, "exit": gate.exit_code, "partial": gate.partial, "counts": gate.counts(),
            "unmatched_require": gate.unmatched,
            "scenarios": [{"name": row.scenario.name, "class": row.kind, "required": row.required,
                           "same_first_cause": row.same_cause, "blocks": row.blocks,
                           "base": run_json(row.base), "head": run_json(row.head)} for row in _ordered(gate)]}


def write_html(gate: Gate, report: Path) -> dict[str, dict[str, str | None]]:
    """A page per run (NAME.base.html, NAME.head.html) and the gate's index.html; the pages'
    file names, by scenario and side."""
    pages: dict[str, dict[str, str | None]] = {}
    rows = []
    for row in _ordered(gate):
        name = row.scenario.name
        sides = {"base": (row.base, gate.base.script), "head": (row.head, gate.head.script)}
        pages[name] = {side: run_page(report, run, script, gate.seed, name=f"{name}.{side}")
                       for side, (run, script) in sides.items()}
        rows.append({"name": name, "class": "required-failure" if row.required_failure and row.kind != "regressed"
                     else row.kind, **{side: {"verdict": run.verdict, "page": pages[name][side],
                                              "first_cause": run.first_cause.to_json() if run.first_cause else None}
                                       for side, (run, _) in sides.items()}})
    write_gate_index(report, rows, base=gate.base.identity(), head=gate.head.identity(), partial=gate.partial)
    return pages


def write_reports(gate: Gate, *, json_path: Path | None, junit_path: Path | None, markdown_path: Path | None,
                  report: Path | None = None) -> None:
    if json_path:
        json_path.write_text(json.dumps(to_json(gate), indent=2) + "\n")
    pages = write_html(gate, report) if report else {}
    if markdown_path:
        where = os.path.relpath(report, markdown_path.parent) if report else ""
        links = {name: {side: f"{where}/{page}" if page else None for side, page in sides.items()}
                 for name, sides in pages.items()}
        markdown_path.write_text(markdown(gate, links))
    if junit_path:
        write_junit(gate, junit_path)


def write_junit(gate: Gate, path: Path) -> None:
    """One test case per scenario: a failure when it blocks the gate, skipped when it does not
    apply or failed on the base too, else passed."""
    suite = ElementTree.Element("testsuite", name=f"macsim gate {gate.head.script}", tests=str(len(gate.rows)),
                                failures=str(sum(row.blocks for row in gate.rows)), errors="0")
    if gate.partial:
        mark_partial(suite)
    skipped = 0
    for row in gate.rows:
        case = ElementTree.SubElement(suite, "testcase", classname="macsim.gate", name=row.scenario.name,
                                      file=str(row.scenario.path))
        if row.blocks:
            explanation = [row.label()]
            if row.head.verdict in ("fail", "error"):
                explanation += explain(row.head, gate.head.script, gate.seed)
            cause = row.head.first_cause.render() if row.head.first_cause else row.label()
            failure = ElementTree.SubElement(case, "failure", message=f"{row.label()}: {cause}")
            failure.text = "\n".join(explanation) + f"\ntrace: {row.head.trace_path}"
        elif row.kind in ("not-applicable", "still-failing", "failing"):
            skipped += 1
            ElementTree.SubElement(case, "skipped", message=f"{row.label()} (base: {row.base.verdict})")
    suite.set("skipped", str(skipped))
    ElementTree.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def add_command(subparsers) -> None:
    gate = subparsers.add_parser(
        "gate", help="a pull request's script against its base, scenario by scenario",
        description="Runs every scenario against the base script and the head script (same Mac, same "
                    "seed) and classifies each: regressed, failing (binds only the head), still failing, "
                    "fixed, pass, not applicable. Exit 1 when a scenario regressed or a --require'd one "
                    "does not pass on the head; 0 otherwise; 2 for bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="what a script claims (--base-claims, --head-claims): " + ", ".join(CONTRACTS) + ". A scenario "
               "binds a script that claims its applies_to or more; the fleet's script from before the "
               "reboot-survivable change claims any.")
    gate.add_argument("scenarios", nargs="*", type=Path, metavar="SCENARIO",
                      help="scenario files or folders (default: scenarios/ of this checkout)")
    gate.add_argument("--base", type=Path, required=True, metavar="FILE", help="the script of the target branch")
    gate.add_argument("--head", type=Path, required=True, metavar="FILE",
                      help="the script of the pull request's merge result")
    gate.add_argument("--base-claims", choices=CONTRACTS, default=CONTRACTS[0])
    gate.add_argument("--head-claims", choices=CONTRACTS, default=CONTRACTS[0])
    gate.add_argument("--require", action="append", default=[], metavar="NAME_OR_GLOB",
                      help="a scenario that must pass on the head (repeatable; e.g. 'test-plan-*')")
    gate.add_argument("--driver", type=Path, default=None, metavar="FILE",
                      help="the M4 enrolment driver MDM runs, on both sides, in the scenarios that have one "
                           "(default: each scenario's own, [start] driver)")
    gate.add_argument("--seed", type=int, default=None, help="the seed of every run (default: each scenario's)")
    gate.add_argument("--json", type=Path, metavar="FILE")
    gate.add_argument("--junit", type=Path, metavar="FILE")
    gate.add_argument("--markdown", type=Path, metavar="FILE", help="a summary for a GitHub job summary")
    gate.add_argument("--traces", type=Path, metavar="DIR", help="where the runs' traces go (a new folder)")
    gate.add_argument("--report", type=Path, metavar="DIR",
                      help="an HTML page per run and an index.html, base and head side by side (a new folder)")
    add_safety_options(gate)


def command(args: argparse.Namespace) -> int:
    base = Side(script_path(args.base, "--base"), args.base_claims)
    head = Side(script_path(args.head, "--head"), args.head_claims)
    for option, path in (("--json", args.json), ("--junit", args.junit), ("--markdown", args.markdown)):
        not_existing(path, option)
    try:
        scenarios = load_scenarios(args.scenarios or [DEFAULT_SCENARIOS])
    except ScenarioError as error:
        print(format_error(error), file=sys.stderr)
        return 2
    if args.driver is not None:
        driver = script_path(args.driver, "--driver")
        scenarios = [with_driver(scenario, driver) for scenario in scenarios]
    report = empty_dir(args.report, "--report") if args.report else None
    scenarios = capped(scenarios, args)
    traces = empty_dir(args.traces, "--traces") if args.traces else \
        runs_tool.new_run(args.runs_dir, "gate", args.keep_runs) / "traces"
    traces.mkdir(parents=True, exist_ok=True)
    try:
        gate = run_gate(scenarios, base, head, require=args.require, seed=args.seed, traces=traces)
    except Interrupted as stop:
        write_reports(stop.gate, json_path=args.json, junit_path=args.junit, markdown_path=args.markdown,
                      report=report)
        stop.what = (f"{len(stop.gate.rows)} of {len(scenarios)} scenario(s) had finished on both sides; "
                     f"traces: {traces}" + ("; their results, marked partial, are in the reports"
                                            if args.json or args.junit or args.markdown or report else ""))
        raise
    print(render(gate))
    print(f"traces: {traces}")
    write_reports(gate, json_path=args.json, junit_path=args.junit, markdown_path=args.markdown, report=report)
    if report:
        print(f"report: {report / 'index.html'}")
    return gate.exit_code
