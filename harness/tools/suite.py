"""Runs a set of scenarios against one script and reports: terminal lines, JSON, JUnit XML."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

from ..mac.config import HARNESS_VERSION
from ..scenarios import Scenario, ScenarioRun, run_scenario, script_identity
from .report import timeline


def run_suite(scenarios: list[Scenario], script: Path, *, seed: int | None, traces: Path,
              show_timeline: bool, keep_disks: Path | None = None,
              power_loss_at_step: int | None = None, tears: dict[str, str] | None = None) -> list[ScenarioRun]:
    """Runs each scenario on a fresh Mac, printing one line per scenario as it ends."""
    content = script.read_bytes()
    runs = []
    print(f"macsim {HARNESS_VERSION}: {len(scenarios)} scenario(s) against {script} "
          f"(sha256 {script_identity(script)['sha256'][:12]})")
    for number, scenario in enumerate(scenarios, 1):
        work = (keep_disks / scenario.name) if keep_disks else Path(tempfile.mkdtemp(prefix="macsim-sc-"))
        started = time.monotonic()
        run = run_scenario(scenario, content, script.name, work, seed=seed,
                           trace_path=traces / f"{scenario.name}.trace.jsonl",
                           power_loss_at_step=power_loss_at_step, tears=tears)
        wall_s = time.monotonic() - started
        result = run.result
        print(f"[{number}/{len(scenarios)}] {run.verdict.upper():5} {scenario.name}: {result.verdict.value}, "
              f"{result.boots} boots, {result.steps} steps, {result.simulated_s:g} s simulated, {wall_s:.1f} s real")
        for violation in run.violations:
            print(f"        {violation.message}")
        if show_timeline or run.verdict != "pass":
            if show_timeline:
                print(timeline(result.trace.events))
            used_seed = scenario.seed if seed is None else seed
            print(f"        replay: macsim run --script {script} --seed {used_seed} {scenario.path}")
        if not keep_disks:
            shutil.rmtree(work, ignore_errors=True)
        runs.append(run)
    passed = sum(run.verdict == "pass" for run in runs)
    print(f"{passed} passed, {len(runs) - passed} failed")
    return runs


def write_json(path: Path, runs: list[ScenarioRun], script: Path, seed: int | None) -> None:
    document = {
        "script": script_identity(script), "seed": seed, "harness_version": HARNESS_VERSION,
        "scenarios": [{
            "name": run.scenario.name, "file": str(run.scenario.path), "verdict": run.verdict,
            "run_verdict": run.result.verdict.value, "violations": [v.to_json() for v in run.violations],
            "boots": run.result.boots, "steps": run.result.steps, "trace": str(run.trace_path),
        } for run in runs],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_junit(path: Path, runs: list[ScenarioRun], script: Path) -> None:
    failures = sum(run.verdict == "fail" for run in runs)
    errors = sum(run.verdict == "error" for run in runs)
    suite = ElementTree.Element("testsuite", name=f"macsim {script}", tests=str(len(runs)),
                                failures=str(failures), errors=str(errors))
    for run in runs:
        case = ElementTree.SubElement(suite, "testcase", classname="macsim.scenarios", name=run.scenario.name,
                                      file=str(run.scenario.path))
        if run.verdict != "pass":
            tag = "failure" if run.verdict == "fail" else "error"
            detail = ElementTree.SubElement(case, tag, message=run.violations[0].message)
            detail.text = "\n".join(v.message for v in run.violations) + f"\ntrace: {run.trace_path}"
    ElementTree.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
