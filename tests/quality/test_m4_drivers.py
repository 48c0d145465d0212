"""The M4 enrolment driver's scenarios hold any driver faithful to its description, not ours alone.

tests/bootstraps/m4-driver-independent.sh was written by someone else from ronin-context.md
("The M4 enrolment driver") without reading this project's driver, simulator or scenarios. Every
scenario that runs a driver must pass with it in the driver's place, around the built-in
bootstrap, as with our own (src/m4-enrolment-driver.sh); and each scenario's guard against our
driver (tests/quality/scenario_guards.toml, `script = ...`) must show that the scenario checks
the driver at all.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.scenarios import DEFAULT_SCRIPT, load_scenarios, run_scenario
from harness.scenarios.schema import with_driver

ROOT = Path(__file__).resolve().parents[2]
INDEPENDENT_DRIVER = ROOT / "tests" / "bootstraps" / "m4-driver-independent.sh"
OUR_DRIVER = ROOT / "src" / "m4-enrolment-driver.sh"
WITH_DRIVER = [s for s in load_scenarios([ROOT / "scenarios"]) if s.start.driver is not None]


def test_the_scenarios_of_the_m4_enrolment_run_our_driver():
    assert len(WITH_DRIVER) >= 5
    assert all(s.start.driver == OUR_DRIVER.read_bytes() for s in WITH_DRIVER)
    assert all(s.applies_to == "reboot-survivable" for s in WITH_DRIVER)


@pytest.mark.parametrize("scenario", WITH_DRIVER, ids=[s.name for s in WITH_DRIVER])
def test_an_independent_driver_passes_every_scenario_that_runs_a_driver(tmp_path, scenario):
    run = run_scenario(with_driver(scenario, INDEPENDENT_DRIVER), DEFAULT_SCRIPT.read_bytes(), "run-puppet.sh",
                       tmp_path / "mac")
    assert run.verdict == "pass", [f"[{v.invariant}] {v.message}" for v in run.violations]


def test_every_guard_of_a_driver_changes_a_line_of_our_driver():
    guards = tomllib.loads((ROOT / "tests" / "quality" / "scenario_guards.toml").read_text())["guard"]
    of_driver = [guard for guard in guards if "script" in guard]
    assert of_driver, "no scenario guards the driver"
    lines = OUR_DRIVER.read_text().splitlines()
    for guard in of_driver:
        assert guard["script"] == "src/m4-enrolment-driver.sh"
        assert lines.count(guard["find"]) == 1, guard["mutant"]
