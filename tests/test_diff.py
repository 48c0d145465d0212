"""`macsim diff`: the behaviour change of a script on a host, and nothing else."""
from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import macsim

SCENARIO = """
[scenario]
summary = "a host with puppet, started over ssh"

[host]
role = "gecko_t_osx_1500_m4"

[start]
how = "ssh"

[[puppet.applies]]
exit_code = 0
duration_s = 60
tcc = "ok"
"""
SCRIPT = """#!/bin/bash
cd /var/tmp
FACTER_PUPPETIZING=true {extra}/opt/puppetlabs/bin/puppet apply ./manifests/
echo done > /var/tmp/done
"""


def diff(tmp_path: Path, extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "a.sh").write_text(SCRIPT.format(extra=""))
    (tmp_path / "b.sh").write_text(SCRIPT.format(extra=extra))
    return macsim("diff", str(tmp_path / "s.toml"), "--baseline", str(tmp_path / "a.sh"),
                  "--candidate", str(tmp_path / "b.sh"))


def test_identical_behaviour_reports_no_difference(tmp_path):
    result = diff(tmp_path, "")
    assert result.returncode == 0, result.stderr
    assert "no difference on the host" in result.stdout


def test_a_changed_fact_shows_as_the_puppet_invocation_that_changed(tmp_path):
    result = diff(tmp_path, "FACTER_running_in_test_kitchen=true ")
    assert result.returncode == 1, result.stderr
    assert "puppet:" in result.stdout
    assert "+ boot 1: /opt/puppetlabs/bin/puppet apply ./manifests/" in result.stdout
    assert "FACTER_running_in_test_kitchen=true" in result.stdout
    assert "files:" not in result.stdout


def test_a_retry_loop_shows_as_one_line_with_its_count():
    from harness.tools.diff import compare
    baseline = {aspect: [] for aspect in ("puppet", "launchd", "files", "reboots", "semaphore")}
    candidate = dict(baseline, puppet=["boot 1: puppet apply"] * 40 + ["boot 2: puppet apply"])
    assert compare(baseline, candidate)["puppet"] == ["+ boot 1: puppet apply  (×40)", "+ boot 2: puppet apply"]
