"""What a scenario expects of the host, judged on real runs: permissions a user has, mail sent,
a script's success, files written, the environment a script starts in, and whom a scenario binds."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenarios import load_scenario, run_scenario

HEADER = """
[scenario]
summary = "a test"
applies_to = "{applies_to}"

[invariants]
off = {{ "converges" = "not a bootstrap", "never-stranded" = "not a bootstrap" }}
"""


def judge(tmp_path: Path, script: str, expect: str, *, applies_to: str = "any", claims: str = "reboot-survivable",
          more: str = ""):
    path = tmp_path / "s.toml"
    path.write_text(HEADER.format(applies_to=applies_to) + more + "\n[expect]\n" + expect)
    return run_scenario(load_scenario(path), ("#!/bin/bash\n" + script).encode(), "x.sh", tmp_path / "mac",
                        claims=claims)


def messages(run) -> list[str]:
    return [v.message for v in run.violations]


WRITABLE = '[[expect.files]]\npath = "/var/tmp/semaphore"\nwritable_by = "cltbld"\n'


@pytest.mark.parametrize("setup", [
    "mkdir -p /var/tmp/semaphore && chown cltbld:staff /var/tmp/semaphore",
    "mkdir -p /var/tmp/semaphore && chmod 0777 /var/tmp/semaphore && touch /var/tmp/semaphore/ready",
    "mkdir -p /var/tmp/semaphore && chmod 1777 /var/tmp/semaphore && touch /var/tmp/semaphore/x "
    "&& chown cltbld /var/tmp/semaphore/x",
])
def test_a_directory_the_worker_user_can_create_and_remove_files_in_passes(tmp_path, setup):
    run = judge(tmp_path, setup, WRITABLE)
    assert messages(run) == []


@pytest.mark.parametrize("setup, why", [
    ("mkdir -p /var/tmp/semaphore", "it is root:wheel 0755, which gives others no write and search permission"),
    ("mkdir -p /var/tmp/semaphore && chmod 1777 /var/tmp/semaphore && touch /var/tmp/semaphore/ready",
     "it is sticky (1777) and cltbld does not own ready, so it cannot remove them"),
    ("mkdir -p /var/tmp/semaphore && chgrp staff /var/tmp/semaphore && chmod 0755 /var/tmp/semaphore",
     "it is root:staff 0755, which gives its group staff no write and search permission"),
])
def test_a_directory_the_worker_user_cannot_use_fails_with_why(tmp_path, setup, why):
    run = judge(tmp_path, setup, WRITABLE)
    assert messages(run) == [f"/var/tmp/semaphore: expected cltbld to create and remove files in it, but {why}"]


MAILER = ('python3 -c \'import smtplib, sys; from email.message import EmailMessage; m = EmailMessage(); '
          'm["From"], m["To"], m["Subject"] = "root@localhost", sys.argv[1], sys.argv[2]; '
          'm.set_content(sys.stdin.read()); smtplib.SMTP("smtp.example.com").send_message(m)\' ')


def test_a_mail_to_the_right_people_naming_the_host_is_found_whatever_its_wording(tmp_path):
    run = judge(tmp_path, MAILER + 'relops@example.com "stuck" <<< "macmini-m4-001 needs a hand"',
                '[[expect.facts]]\nfact = "mail-sent"\nto = "relops@example.com"\nmentions_host = true\n')
    assert messages(run) == []


@pytest.mark.parametrize("script, found", [
    (MAILER + 'someone@example.com "stuck" <<< "macmini-m4-001 needs a hand"', "found 0"),
    (MAILER + 'relops@example.com "stuck" <<< "a host needs a hand"', "found 0"),
])
def test_a_mail_to_others_or_not_naming_the_host_does_not_count(tmp_path, script, found):
    run = judge(tmp_path, script, '[[expect.facts]]\nfact = "mail-sent"\nto = "relops@example.com"\n'
                                  'mentions_host = true\n')
    assert messages(run) == ["mail-sent: expected at least 1 mails to relops@example.com naming the host "
                             f"(macmini-m4-001), {found}"]


@pytest.mark.parametrize("status, success, verdict", [(0, "true", "pass"), (3, "false", "pass"),
                                                      (0, "false", "fail"), (2, "true", "fail")])
def test_script_exited_with_success_judges_zero_or_non_zero(tmp_path, status, success, verdict):
    run = judge(tmp_path, f"exit {status}", f'[[expect.facts]]\nfact = "script-exited"\nsuccess = {success}\n')
    assert run.verdict == verdict, messages(run)


def test_file_written_in_a_boot_sees_writes_through_the_var_alias(tmp_path):
    run = judge(tmp_path, "echo hi >> /var/log/x.log", '[[expect.facts]]\nfact = "file-written"\n'
                                                        'path = "/var/log/x.log"\nat_boot = 1\n')
    assert messages(run) == []
    (tmp_path / "again").mkdir()
    run = judge(tmp_path / "again", "true", '[[expect.facts]]\nfact = "file-written"\npath = "/var/log/x.log"\n')
    assert messages(run) == ["file-written: /var/log/x.log was not written"]


def test_the_started_script_gets_the_environment_the_scenario_gives_it(tmp_path):
    run = judge(tmp_path, 'echo "$FACTER_running_in_test_kitchen" > /var/tmp/seen',
                '[[expect.files]]\npath = "/var/tmp/seen"\ncontent = "true\\n"\n',
                more='[start]\nhow = "ssh"\nenv = { FACTER_running_in_test_kitchen = "true" }\n')
    assert messages(run) == []


def test_a_scenario_that_binds_more_than_the_script_claims_is_not_run(tmp_path):
    run = judge(tmp_path, "exit 1", '[[expect.facts]]\nfact = "script-exited"\nsuccess = true\n',
                applies_to="reboot-survivable", claims="any")
    assert (run.verdict, run.result, run.violations) == ("not-applicable", None, [])


def test_a_script_claiming_any_is_held_only_to_the_invariants_every_bootstrap_keeps(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\nsummary = "a test"\n')
    script = b"#!/bin/bash\nmkdir -p /var/tmp/semaphore && touch /var/tmp/semaphore/run-buildbot\n"
    any_run = run_scenario(load_scenario(path), script, "x.sh", tmp_path / "a", claims="any")
    assert [v.invariant for v in any_run.violations] == ["semaphore-truthful"]
    full = run_scenario(load_scenario(path), script, "x.sh", tmp_path / "b")
    assert {v.invariant for v in full.violations} == {"converges", "never-stranded", "semaphore-truthful"}


def test_the_first_cause_is_the_failed_command_not_its_consequences(tmp_path):
    run = judge(tmp_path, "install -m 755 \"$0\" /usr/local/sbin/x.sh\nlaunchctl print system/x || true\nexit 0",
                '[[expect.files]]\npath = "/usr/local/sbin/x.sh"\n')
    cause = run.first_cause
    assert (cause.kind, cause.line, cause.job) == ("command", "x.sh:2", "mdm-script-job")
    assert cause.text.endswith("/usr/local/sbin/x.sh → 71 (install: /usr/local/sbin/x.sh: No such file or directory)")


def test_questions_and_idempotent_cleanups_are_not_causes(tmp_path):
    run = judge(tmp_path, "launchctl print system/x\nlaunchctl bootout system/x\nexit 4",
                '[[expect.facts]]\nfact = "script-exited"\nsuccess = true\n')
    assert (run.first_cause.kind, run.first_cause.text) == ("exit", "mdm-script-job exited with status 4")


def test_a_legacy_load_that_prints_its_failure_and_exits_0_is_a_cause(tmp_path):
    run = judge(tmp_path, "launchctl load /Library/LaunchDaemons/missing.plist\nexit 0",
                '[[expect.files]]\npath = "/var/tmp/never"\n')
    assert run.first_cause.kind == "command" and run.first_cause.text.startswith("$ launchctl load")
