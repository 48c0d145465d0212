"""src/run-puppet.sh: what only it promises (started from stdin; its log sentences, exit codes and mail)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.scenarios import run_scenario
from harness.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """
[scenario]
summary = "a host whose TCC database exists: one clean apply hands it over in its first boot"

[host]
role = "gecko_t_osx_1500_m4"

[[host.files]]
path = "/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"
content = "SQLite format 3"
owner = "cltbld"
group = "staff"

[[puppet.applies]]
exit_code = 2
duration_s = 300
"""


def test_started_from_stdin_it_applies_and_hands_over_without_registering_a_copy_it_does_not_have(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO)
    bootstrap = (ROOT / "src" / "run-puppet.sh").read_text()
    piped = f"#!/bin/bash\n/bin/bash -s <<'RUN_PUPPET_EOF'\n{bootstrap}RUN_PUPPET_EOF\n"
    run = run_scenario(load_scenario(tmp_path / "s.toml"), piped.encode(), "piped.sh", tmp_path / "mac")
    log = run.machine.disk.host_path("/var/log/ronin-puppet-bootstrap.log").read_text()
    assert "starting from stdin" in log
    assert "started from stdin and /usr/local/sbin/ronin-puppet-bootstrap.sh does not exist: no script to register" in log
    assert not run.machine.disk.host_path("/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist").exists()
    assert run.verdict == "pass", [v.message for v in run.violations]


# What src/run-puppet.sh itself chose where the fleet's contract is silent: its log sentences,
# its exit codes, its way of waiting for a lock, its mail. The scenarios judge the host; these
# pin the built-in script's own behaviour on the same hosts.
SCENARIOS = ROOT / "scenarios"
LOG = "/var/log/ronin-puppet-bootstrap.log"


def run_builtin(tmp_path: Path, name: str):
    run = run_scenario(load_scenario(SCENARIOS / f"{name}.toml"), (ROOT / "src" / "run-puppet.sh").read_bytes(),
                       "run-puppet.sh", tmp_path / "mac")
    assert run.verdict == "pass", [v.message for v in run.violations]
    return run


def log_of(run) -> str:
    return run.machine.disk.host_path(LOG).read_text()


def exit_status(run) -> int | None:
    exits = [e for e in run.result.trace.events if e.kind == "process-exit" and e.job in ("mdm-script-job", "ssh-session")]
    return exits[-1].data.get("status")


@pytest.mark.parametrize("scenario, status, logged", [
    ("field-missing-vault", 2, "/var/root/vault.yaml is missing"),
    ("field-no-role", 1, "/etc/puppet_role is missing"),
])
def test_a_missing_precondition_exits_with_its_own_status_and_says_which(tmp_path, scenario, status, logged):
    run = run_builtin(tmp_path, scenario)
    assert exit_status(run) == status
    assert logged in log_of(run)


@pytest.mark.parametrize("scenario, logged", [
    ("field-semaphore-before-success", "printed Error: lines: counting the apply as failed"),
    ("field-tcc-reboot-only-when-missing", "which exists (denied or locked): no reboot"),
    ("remote-login-off", "ssh root@localhost does not work (is Remote Login on?)"),
    ("field-two-runs-at-once", "holds /var/run/ronin-run-puppet.lock: waiting"),
])
def test_the_log_says_why(tmp_path, scenario, logged):
    assert logged in log_of(run_builtin(tmp_path, scenario))


def test_one_log_holds_the_mdm_run_of_boot_1_and_the_daemon_run_of_boot_2(tmp_path):
    log = log_of(run_builtin(tmp_path, "field-tmp-wiped-at-boot"))
    assert "starting from /private/tmp/com.apple.mdmclient.script." in log
    assert "starting from /usr/local/sbin/ronin-puppet-bootstrap.sh" in log


def test_a_second_run_waits_for_the_lock_and_applies_after_the_first(tmp_path):
    run = run_builtin(tmp_path, "field-two-runs-at-once")
    applies = [e for e in run.result.trace.events if e.kind == "puppet-apply"]
    assert len(applies) >= 3  # the bootstrap's, the operator's, then worker-runner's
    assert not any(apply.data["overlapping"] for apply in applies)


def test_without_autologin_it_mails_once_that_the_tcc_database_is_missing_and_keeps_retrying(tmp_path):
    run = run_builtin(tmp_path, "field-no-autologin")
    mails = [e.data for e in run.result.trace.events
             if e.kind == "mail" and "TCC database missing" in e.data["subject"] + e.data["body"]]
    assert len(mails) == 1
    assert run.result.verdict.value == "limit-simulated-time"


def test_puppet_gets_the_daemons_path_with_puppets_own_bin_last(tmp_path):
    run = run_builtin(tmp_path, "test-plan-5-test-kitchen")
    (first, *_) = [e for e in run.result.trace.events if e.kind == "puppet-apply"]
    assert first.data["env"]["PATH"] == "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin"


def test_an_empty_value_in_the_settings_file_keeps_the_default(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO.replace('[[puppet.applies]]', '''[[host.files]]
path = "/opt/puppet_environments/ronin_settings"
content = "PUPPET_REPO=\\nPUPPET_BRANCH=\\n"

[[puppet.applies]]'''))
    run = run_scenario(load_scenario(tmp_path / "s.toml"), (ROOT / "src" / "run-puppet.sh").read_bytes(),
                       "run-puppet.sh", tmp_path / "mac")
    assert run.verdict == "pass", [v.message for v in run.violations]
    assert "settings: repo https://github.com/mozilla-platform-ops/ronin_puppet.git, branch master" in log_of(run)


def test_a_log_line_a_full_disk_refuses_does_not_end_the_run():
    # Under launchd stdout is the log file: on a full disk its write fails, and with set -e a
    # failed printf would end the bootstrap where it should retry until someone frees room.
    # /dev/full refuses every write with ENOSPC, as a full disk does.
    body = (ROOT / "src" / "run-puppet.sh").read_text().rstrip("\n")
    assert body.endswith('main "$@"')
    probe = body[:-len('main "$@"')] + "LOG_IS_STDOUT=1\nlog 'the disk is full' >/dev/full\necho still running\n"
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, "still running\n"), done.stderr
