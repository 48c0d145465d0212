"""`macsim gate`: a base and a head script on the same scenarios, each scenario classified."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import macsim

from harness.scenarios import ScenarioRun, load_scenario
from harness.tools.gate import Row

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = (ROOT / "src" / "run-puppet.sh").read_text()
FLEET_CURRENT = ROOT / "tests" / "bootstraps" / "fleet-current.sh"
NO_ROLE = ROOT / "scenarios" / "field-no-role.toml"
# Registers itself before checking the preconditions: a host without a role would reboot-loop.
REGISTERS_FIRST = ("    load_settings\n", "    load_settings\n    register_bootstrap || true\n")


def row(base: str, head: str, *, required: bool = False) -> Row:
    scenario = load_scenario(NO_ROLE)
    return Row(scenario, ScenarioRun(scenario, base), ScenarioRun(scenario, head), required=required)


@pytest.mark.parametrize("base, head, kind, blocks", [
    ("pass", "pass", "pass", False), ("fail", "pass", "fixed", False), ("pass", "fail", "regressed", True),
    ("fail", "fail", "still-failing", False), ("error", "fail", "still-failing", False),
    ("not-applicable", "fail", "failing", False), ("not-applicable", "pass", "pass", False),
    ("pass", "not-applicable", "not-applicable", False),
])
def test_each_pair_of_verdicts_has_its_class(base, head, kind, blocks):
    assert (row(base, head).kind, row(base, head).blocks) == (kind, blocks)


def test_a_required_scenario_that_does_not_pass_on_the_head_blocks_whatever_its_class():
    assert row("fail", "fail", required=True).blocks
    assert row("not-applicable", "not-applicable", required=True).blocks
    assert not row("fail", "pass", required=True).blocks


@pytest.mark.sandbox
def test_the_gate_fails_on_a_regression_and_names_its_first_cause(tmp_path):
    head = tmp_path / "run-puppet.sh"
    head.write_text(BOOTSTRAP.replace(*REGISTERS_FIRST))
    done = macsim("gate", "--base", str(FLEET_CURRENT), "--head", str(head), "--head-claims", "reboot-survivable",
                  "--json", str(tmp_path / "g.json"), "--markdown", str(tmp_path / "g.md"),
                  "--junit", str(tmp_path / "g.xml"), str(NO_ROLE))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "g.json").read_text())
    (only,) = report["scenarios"]
    assert (only["class"], only["base"]["verdict"], only["head"]["verdict"]) == ("regressed", "pass", "fail")
    assert report["base"]["claims"] == "any" and report["head"]["claims"] == "reboot-survivable"
    assert "bootstrap-daemon-never-installed: its plist was written in boot 1" in only["head"]["first_cause"]["text"]
    markdown = (tmp_path / "g.md").read_text()
    assert "| field-no-role | pass | FAIL | **regressed** |" in markdown and "**First cause**" in markdown
    assert '<failure message="regressed: boot 1' in (tmp_path / "g.xml").read_text()


@pytest.mark.sandbox
def test_the_same_script_as_base_and_head_passes_the_gate(tmp_path):
    done = macsim("gate", "--base", str(FLEET_CURRENT), "--head", str(FLEET_CURRENT), str(NO_ROLE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "macsim gate passed" in done.stdout


def test_a_required_name_no_scenario_has_fails_the_gate_loudly(tmp_path):
    scenario = tmp_path / "empty.toml"
    scenario.write_text('[scenario]\nsummary = "nothing applies"\napplies_to = "reboot-survivable"\n')
    done = macsim("gate", "--base", str(FLEET_CURRENT), "--head", str(FLEET_CURRENT), "--require", "test-plan-*",
                  str(scenario))
    assert done.returncode == 1
    assert "--require test-plan-*: no scenario has that name" in done.stdout


def test_a_missing_script_is_bad_input(tmp_path):
    done = macsim("gate", "--base", str(FLEET_CURRENT), "--head", str(tmp_path / "nope.sh"), str(NO_ROLE))
    assert done.returncode == 2
    assert f"--head: {tmp_path / 'nope.sh'}: no such file" in done.stderr
