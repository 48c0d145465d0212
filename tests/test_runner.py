"""Scenarios end to end: a scenario file, a script, a verdict with violations a person can act on."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import macsim

from harness.runner import run_scenario
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
summary = "a role-less host: the script must say so and stop"

[expect]
verdict = "quiet"
boots = 1

[[expect.facts]]
fact = "script-exited"
status = 1

[[expect.facts]]
fact = "bootstrap-daemon-never-installed"

[invariants]
off = { "converges" = "no role, nothing to apply", "never-stranded" = "not registered by design" }
"""

CAREFUL = """#!/bin/bash
[ -s /etc/puppet_role ] || { echo "no role" >&2; exit 1; }
"""

CARELESS = """#!/bin/bash
cat > /Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist <<END
<plist version="1.0"><dict><key>Label</key><string>x</string></dict></plist>
END
[ -s /etc/puppet_role ] || exit 1
"""


def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "no-role.toml"
    path.write_text(SCENARIO)
    return path


def test_a_script_that_meets_the_expectations_passes(tmp_path):
    run = run_scenario(load_scenario(scenario_file(tmp_path)), CAREFUL.encode(), "x.sh", tmp_path / "mac")
    assert run.verdict == "pass", run.violations


def test_a_script_that_breaks_one_expectation_fails_with_what_happened_and_when(tmp_path):
    run = run_scenario(load_scenario(scenario_file(tmp_path)), CARELESS.encode(), "x.sh", tmp_path / "mac")
    assert run.verdict == "fail"
    assert [(v.invariant, v.message) for v in run.violations] == [
        ("expect", "bootstrap-daemon-never-installed: its plist was written in boot 1"),
        ("launchd-accepts", "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist would not "
                            "load: 111: neither Program nor ProgramArguments")]



def test_the_command_writes_json_and_junit_and_exits_1_when_a_scenario_fails(tmp_path):
    script = tmp_path / "careless.sh"
    script.write_text(CARELESS)
    result = macsim("run", "--script", str(script), "--json", str(tmp_path / "r.json"),
                    "--junit", str(tmp_path / "r.xml"), str(scenario_file(tmp_path)))
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["script"]["path"] == str(script)
    (only,) = report["scenarios"]
    assert (only["name"], only["verdict"], only["boots"]) == ("no-role", "fail", 1)
    assert only["violations"][0]["invariant"] == "expect"
    assert Path(only["trace"]).exists()
    assert '<failure message="bootstrap-daemon-never-installed' in (tmp_path / "r.xml").read_text()


def test_a_bad_scenario_file_is_one_error_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nsummary = "x"\n[expect]\nboot = 2\n')
    result = macsim("run", "--script", str(ROOT / "examples" / "self-removing-daemon.sh"), str(bad))
    assert result.returncode == 2
    assert "expect.boot" in result.stderr and "boots" in result.stderr
