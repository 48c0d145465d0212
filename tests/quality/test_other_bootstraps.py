"""The scenarios hold other people's scripts to the fleet's contract, not to the shape of ours.

tests/bootstraps/ holds scripts this project did not derive from src/run-puppet.sh, each written
from ../shared/reference/ronin-context.md alone: a second, independent reboot-survivable
bootstrap (it must pass every scenario), and a stand-in of the fleet's script from before the
reboot-survivable change, which claims `any` (it must pass every scenario that binds it, except
where it has a real defect, which that scenario's summary names).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenarios import load_scenarios, run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = load_scenarios([ROOT / "scenarios"])
INDEPENDENT = ROOT / "tests" / "bootstraps" / "independent-reboot-survivable.sh"
FLEET_CURRENT = ROOT / "tests" / "bootstraps" / "fleet-current.sh"
#: The fleet's current script's real defects, and the words of each scenario's summary that name it.
KNOWN_DEFECTS = {"field-missing-vault": "still does: a real defect of that script",
                 "field-two-runs-at-once": "has no lock: a real defect of that script",
                 "field-stale-git-lock": "does not clear it: a real defect of that script"}


def judge(tmp_path: Path, scenario, script: Path, claims: str):
    return run_scenario(scenario, script.read_bytes(), script.name, tmp_path / "mac", claims=claims)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_an_independent_correct_bootstrap_passes(tmp_path, scenario):
    run = judge(tmp_path, scenario, INDEPENDENT, "reboot-survivable")
    assert run.verdict == "pass", [f"[{v.invariant}] {v.message}" for v in run.violations]


ANY = [s for s in SCENARIOS if s.applies_to == "any"]


@pytest.mark.parametrize("scenario", ANY, ids=[s.name for s in ANY])
def test_the_fleets_current_script_passes_what_binds_it_but_its_real_defects(tmp_path, scenario):
    run = judge(tmp_path, scenario, FLEET_CURRENT, "any")
    if scenario.name in KNOWN_DEFECTS:
        assert run.verdict == "fail"
        assert KNOWN_DEFECTS[scenario.name] in scenario.summary
    else:
        assert run.verdict == "pass", [f"[{v.invariant}] {v.message}" for v in run.violations]


def test_the_contract_and_kitchen_scenarios_bind_the_fleets_current_script():
    names = {s.name for s in ANY}
    assert {"contract-settings-and-hooks", "test-plan-5-test-kitchen"} <= names


def test_the_gate_stops_the_first_draft_of_the_reboot_survivable_change_and_names_each_first_cause(tmp_path):
    # tests/bootstraps/pr-first-draft.sh: a hurried first draft of the change, written from
    # ronin-context.md alone, on top of the fleet's current script (its defects at its top).
    import json
    from conftest import macsim
    report = tmp_path / "gate.json"
    done = macsim("gate", "--base", str(FLEET_CURRENT), "--head", str(ROOT / "tests" / "bootstraps" / "pr-first-draft.sh"),
                  "--head-claims", "reboot-survivable", "--json", str(report),
                  *(str(ROOT / "scenarios" / f"{name}.toml") for name in
                    ("test-plan-1-fresh-m4", "field-no-role", "test-plan-5-test-kitchen")))
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {row["name"]: row for row in json.loads(report.read_text())["scenarios"]}
    assert rows["field-no-role"]["class"] == "regressed" and rows["test-plan-5-test-kitchen"]["class"] == "pass"
    assert rows["test-plan-1-fresh-m4"]["class"] == "failing"  # new: binds reboot-survivable scripts only
    for name in ("field-no-role", "test-plan-1-fresh-m4"):
        # Defect 1: install into a /usr/local/sbin that a fresh Mac does not have.
        assert "install -m 755" in rows[name]["head"]["first_cause"]["text"]
        assert "No such file or directory" in rows[name]["head"]["first_cause"]["text"]
