"""Scenarios end to end: a scenario file, a script, a verdict with violations a person can act on."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import macsim

from harness.scenarios import run_scenario
from harness.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
summary = "a role-less host: the script must say so and stop"

[host]
role = false

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
    # The first thing that went wrong heads the report: the plist written on a host without a role.
    cause = only["first_cause"]
    assert (cause["kind"], cause["boot"], cause["job"], cause["line"]) == ("expectation", 1, "mdm-script-job",
                                                                          "careless.sh:2")
    assert cause["text"] == "bootstrap-daemon-never-installed: its plist was written in boot 1"
    assert f'<failure message="boot 1, 0 s, mdm-script-job, careless.sh:' in (tmp_path / "r.xml").read_text()


def test_a_bad_scenario_file_is_one_error_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nsummary = "x"\n[expect]\nboot = 2\n')
    result = macsim("run", "--script", str(ROOT / "examples" / "self-removing-daemon.sh"), str(bad))
    assert result.returncode == 2
    assert "expect.boot" in result.stderr and "boots" in result.stderr


def run_text(tmp_path: Path, scenario: str, script: str):
    path = tmp_path / "scenario.toml"
    path.write_text(scenario)
    return run_scenario(load_scenario(path), script.encode(), "run.sh", tmp_path / "mac")


def test_a_macos_update_removes_and_writes_files_in_its_first_boot(tmp_path):
    run = run_text(tmp_path, """
[scenario]
summary = "the update takes a tool away and leaves a note"

[start]
how = "none"

[[host.files]]
path = "/usr/local/bin/tool"
content = "#!/bin/bash\\n"
mode = "0755"

[[events]]
at_s = 100
what = "macos-update"
to_version = "15.4"
to_build = "24E248"
reboots = 2
removes = ["/usr/local/bin/tool", "/opt/never-there"]
network_up_after_s = 50

[[events.files]]
path = "/Users/Shared/Relocated Items/tool"
content = "moved\\n"

[[events]]
at_s = 2000
what = "reboot"

[expect]
verdict = "quiet"
boots = 4

[[expect.files]]
path = "/usr/local/bin/tool"
present = false

[[expect.files]]
path = "/Users/Shared/Relocated Items/tool"
content = "moved\\n"

[invariants]
off = { "converges" = "no bootstrap runs", "never-stranded" = "no bootstrap runs" }
""", "")
    assert run.verdict == "pass", run.violations
    events = run.result.trace.events
    removed = [e for e in events if e.kind == "file" and e.data["path"] == "/usr/local/bin/tool"]
    assert [(e.boot, e.data["change"]) for e in removed] == [(2, "removed")]
    installer = next(e for e in events if e.kind == "installer-boot")
    assert installer.boot == 2 and installer.seq < removed[0].seq
    assert [(e.boot, e.data) for e in events if e.kind == "network"] == [
        (3, {"state": "down", "until_s": events[[e.kind for e in events].index("macos-updated")].t_s + 50}),
        (3, {"state": "up"})]


OPERATOR_SCRIPT = """#!/bin/bash
echo "run with: $*"
sleep 20
[ "$1" = "--operator" ] && exit 3
exit 0
"""


def test_an_operator_run_is_a_second_run_with_its_own_session_output_and_exit(tmp_path):
    run = run_text(tmp_path, """
[scenario]
summary = "an operator starts a second run while the first still runs"

[start]
how = "ssh"

[[events]]
at_s = 5
what = "operator-run"
args = ["--operator"]

[expect]
verdict = "quiet"

[[expect.facts]]
fact = "script-exited"
status = 0

[invariants]
off = { "converges" = "not a bootstrap", "never-stranded" = "not a bootstrap" }
""", OPERATOR_SCRIPT)
    assert run.verdict == "pass", run.violations
    exits = [(e.job, e.t_s, e.data) for e in run.result.trace.events if e.kind == "process-exit"]
    assert exits == [("ssh-session", 20.0, {"status": 0}), ("operator-1-ssh-session", 25.0, {"status": 3})]
    assert run.machine.output("ssh-session") == "run with: \n"
    assert run.machine.output("operator-1-ssh-session") == "run with: --operator\n"


def test_an_operator_run_while_the_mac_restarts_starts_in_the_next_boot(tmp_path):
    run = run_text(tmp_path, """
[scenario]
summary = "the operator logs in once the Mac is back"

[start]
how = "none"

[[events]]
at_s = 100
what = "reboot"

[[events]]
at_s = 100
what = "operator-run"

[expect]
verdict = "quiet"
boots = 2

[invariants]
off = { "converges" = "not a bootstrap", "never-stranded" = "not a bootstrap" }
""", OPERATOR_SCRIPT)
    assert run.verdict == "pass", run.violations
    starts = [e for e in run.result.trace.events if e.kind == "process-start" and e.job == "operator-1-ssh-session"]
    assert {e.boot for e in starts} == {2}


MAILING_SCRIPT = """#!/bin/bash
for subject in "first report" "TCC database missing"; do
    python3 -c 'import smtplib, sys; smtplib.SMTP("smtp.example.com").sendmail("root@mac", ["ops@example.com"], "Subject: " + sys.argv[1] + "\\n\\nbody\\n")' "$subject"
done
"""


def test_mail_sent_counts_the_messages_a_relay_took_and_can_look_for_a_text(tmp_path):
    run = run_text(tmp_path, """
[scenario]
summary = "two reports"

[[expect.facts]]
fact = "mail-sent"
count = 2

[[expect.facts]]
fact = "mail-sent"
contains = "TCC database missing"
count = 1
at_boot = 1

[[expect.facts]]
fact = "mail-sent"
contains = "never said"

[invariants]
off = { "converges" = "not a bootstrap", "never-stranded" = "not a bootstrap" }
""", MAILING_SCRIPT)
    assert [v.message for v in run.violations] == [
        "mail-sent: expected at least 1 mails with 'never said' in the subject or body, found 0"]
