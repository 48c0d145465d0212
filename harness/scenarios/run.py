"""Runs a scenario against a script: builds the Mac it describes, runs it, judges it.

A scenario's verdict is "pass" when every expectation and every invariant holds, "fail" when one
does not (each a violation naming what was expected, what happened, and the boot and step where
the trace shows it), and "error" when the run could not be judged (a limit was hit that the
scenario did not expect).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..fleet import CONTRACTS, binds
from ..mac.machine import Machine, RunResult
from . import invariants
from .build import Stage, build
from .causes import Cause, first_cause
from .expect import check_expectations
from .invariants import Violation
from .schema import Scenario

#: The bootstrap a run uses when none is given: our own (README, issue "The bootstrap under test").
DEFAULT_SCRIPT = Path(__file__).resolve().parents[2] / "src" / "run-puppet.sh"


@dataclass
class ScenarioRun:
    scenario: Scenario
    verdict: str  # pass | fail | error | not-applicable
    violations: list[Violation] = field(default_factory=list)
    result: RunResult | None = None
    stage: Stage | None = None
    trace_path: Path | None = None
    first_cause: Cause | None = None  # of a failing run: what to read first
    claims: str = CONTRACTS[-1]

    @property
    def machine(self) -> Machine | None:
        return self.stage.machine if self.stage else None


def run_scenario(scenario: Scenario, script: bytes, script_name: str, directory: Path, *,
                 seed: int | None = None, trace_path: Path | None = None,
                 power_loss_at_step: int | None = None, tears: dict[str, str] | None = None,
                 claims: str = CONTRACTS[-1], after_changes: int | None = None) -> ScenarioRun:
    """Runs `script` on the scenario's Mac in `directory` (absent or empty) and judges it.

    `claims` is what the script claims to be (fleet.CONTRACTS): a scenario that does not bind
    such a script is not run ("not-applicable"), and only the invariants of what it claims are
    checked. With `power_loss_at_step`, the power is cut just before that step (and comes
    back): the scenario's own expectations describe a run without that fault, so only the
    invariants are checked then; with `after_changes` too, it is cut in that step instead, once
    its command(s) made that many changes to the disk (mac/cuts.py). `tears` (mac path ->
    "empty" or "short") are the files a power cut tears if they were written just before it
    (Machine.tear_at_power_loss)."""
    if not binds(scenario.applies_to, claims):
        return ScenarioRun(scenario, "not-applicable", trace_path=None, claims=claims)
    stage = build(scenario, script, script_name, directory, seed=seed, trace_path=trace_path)
    machine = stage.machine
    if power_loss_at_step is not None:
        machine.power_loss_at_step(power_loss_at_step, after_changes)
    for path, mode in (tears or {}).items():
        machine.tear_at_power_loss(path, mode)
    result = machine.run()
    run = ScenarioRun(scenario, "pass", result=result, stage=stage, trace_path=trace_path, claims=claims)
    expectations = check_expectations(scenario, stage, result) if power_loss_at_step is None else []
    run.violations = expectations + check_invariants(scenario, result, claims)
    run.first_cause = first_cause(result.trace.events, run.violations)
    if run.violations:
        # "error": a limit the scenario did not expect ended the run and nothing else was found,
        # so the run could not be judged. A run that hit a limit and broke an expectation or an
        # invariant on the way (a reboot loop, say) was judged: it failed.
        expected = scenario.expect.verdict
        limit_hit = result.verdict.value.startswith("limit") and expected != result.verdict
        only_the_verdict = all(v.message.startswith("verdict:") for v in run.violations)
        run.verdict = "error" if limit_hit and only_the_verdict else "fail"
    return run


def check_invariants(scenario: Scenario, result: RunResult, claims: str = CONTRACTS[-1]) -> list[Violation]:
    """The invariants not switched off that bind what the script claims; an invariant the
    scenario expects to fail must fail."""
    rules = scenario.invariants
    found = invariants.check(result.trace.events, off=[name for name, _ in rules.off], claims=claims)
    expected = {name for name in rules.expect_violation if binds(invariants.CONTRACT[name], claims)}
    unexpected = [v for v in found if v.invariant not in expected]
    for name in sorted(expected - {v.invariant for v in found}):
        unexpected.append(Violation(name, f"expected {name} to be violated (the field failure this scenario "
                                          "reproduces), but it held", result.boots))
    return unexpected


def script_identity(path: Path) -> dict:
    content = path.read_bytes()
    return {"path": str(path), "sha256": hashlib.sha256(content).hexdigest()}
