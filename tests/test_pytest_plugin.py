"""`pytest scenarios/`: each scenario file is a test item, failing with what `macsim run` says."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """
[scenario]
summary = "a host without a role: the bootstrap refuses before registering"

[host]
role = false

[invariants]
off = { "converges" = "no role, nothing to apply", "never-stranded" = "not registered by design" }

[expect]
verdict = "quiet"

[[expect.facts]]
fact = "bootstrap-daemon-never-installed"
"""


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_scenario_file_passes_as_a_test_against_the_built_in_bootstrap(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "no-role.toml").write_text(SCENARIO)
    result = pytest_run(tmp_path, "scenarios")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_broken_script_fails_the_item_with_the_broken_expectation_and_a_replay(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "no-role.toml").write_text(SCENARIO)
    broken = (ROOT / "src" / "run-puppet.sh").read_text().replace("    load_settings\n",
                                                                  "    load_settings\n    register_bootstrap || true\n")
    (tmp_path / "broken.sh").write_text(broken)
    result = pytest_run(tmp_path, "scenarios", "--macsim-script", str(tmp_path / "broken.sh"))
    assert result.returncode == 1
    assert "bootstrap-daemon-never-installed: its plist was written in boot 1" in result.stdout
    assert f"replay: macsim run --script {tmp_path / 'broken.sh'} --claims reboot-survivable --seed 0" in result.stdout


def test_a_bad_scenario_file_fails_as_its_own_item_with_the_loaders_message(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "bad.toml").write_text(SCENARIO.replace('verdict = "quiet"', 'verdict = "fine"'))
    result = pytest_run(tmp_path, "scenarios")
    assert result.returncode == 1
    assert "expect.verdict" in result.stdout and '"fine"' in result.stdout


def test_another_driver_runs_in_the_scenarios_that_have_one(tmp_path):
    # A driver that gives up at once: the M4 scenario fails with it, and says whose it was.
    for folder, name in (("scenarios", "m4-enrolment-fresh.toml"), ("src", "m4-enrolment-driver.sh")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes((ROOT / folder / name).read_bytes())  # the driver beside, as in ROOT
    (tmp_path / "give-up.sh").write_text("#!/bin/bash\necho 'no secure token: giving up' >&2\nexit 1\n")
    ours = pytest_run(tmp_path, "scenarios")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    theirs = pytest_run(tmp_path, "scenarios", "--macsim-driver", str(tmp_path / "give-up.sh"))
    assert theirs.returncode == 1
    assert f"--driver {tmp_path / 'give-up.sh'}" in theirs.stdout  # the replay runs the same driver
    missing = pytest_run(tmp_path, "scenarios", "--macsim-driver", str(tmp_path / "none.sh"))
    assert "--macsim-driver" in missing.stdout + missing.stderr and "no such file" in missing.stdout + missing.stderr
