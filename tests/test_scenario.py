"""Tests for harness.scenario: scenario files load into the schema, or fail with one exact error.

Each kind of bad input has its own test that pins the key path, what was expected and what was
found, because those three are what a user reads to fix the file. The examples of
docs/scenarios.md are loaded too, so the documentation cannot drift from the loader.
"""
from __future__ import annotations

import pickle
import plistlib
import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from harness.mac.accounts import Account
from harness.mac.config import Limits, MachineConfig, Verdict
from harness.scenarios.schema import (EXIT_BAD_INPUT, DeliverFile, DeliverProfile, EventKind, Expect,
                              ExpectFile, ExpectLoaded, Fact, FactKind, FileSpec, Halt, Host,
                              Invariants, MacosUpdate, NetworkPlan, OperatorRun, PowerLoss, PuppetApply,
                              PuppetPlan, PushCommit, Reboot, RoleModel, Scenario, ScenarioError,
                              Start, StartHow, Tcc, darwin_release, format_error)
from harness.scenarios import DEFAULT_SCRIPT, run_scenario
from harness.scenarios.loader import load_scenario, load_scenarios

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
HEADER = '[scenario]\nsummary = "a test"\n'


def write(directory: Path, text: str, name: str = "example.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def load(directory: Path, body: str) -> Scenario:
    """Loads `body` after a minimal [scenario] table."""
    return load_scenario(write(directory, HEADER + textwrap.dedent(body)))


def error(directory: Path, body: str, *, header: bool = True) -> ScenarioError:
    text = (HEADER if header else "") + textwrap.dedent(body)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(directory, text))
    return caught.value


def assert_error(err: ScenarioError, key_path: str, expected: str, found: str) -> None:
    assert (err.key_path, err.expected, err.found) == (key_path, expected, found)


# What loads


def test_a_file_with_only_a_summary_loads_with_every_default(tmp_path):
    scenario = load(tmp_path, "")
    assert scenario == Scenario(path=tmp_path / "example.toml", name="example", summary="a test")
    # A fresh M4 worker, its role delivered by MDM: the fleet's common case.
    assert scenario.host == Host(macos_version="15.3.1", build_version="24D70", kernel_release="24.3.0",
                                 role="gecko_t_osx_1500_m4", autologin=True, sip=True, vault=True)
    assert scenario.applies_to == "any"


def test_role_false_is_a_host_mdm_has_not_given_a_role_yet(tmp_path):
    assert load(tmp_path, '[host]\nrole = false\n').host.role is None
    err = error(tmp_path, '[host]\nrole = true\n')
    assert_error(err, "host.role", "a puppet role name (lowercase letters, digits, _), or false for no "
                 "/etc/puppet_role", "true (a boolean)")


def test_every_default_start_puppet_and_limit(tmp_path):
    scenario = load(tmp_path, "")
    assert scenario.start == Start(StartHow.MDM_SCRIPT_JOB, 0.0, ())
    assert scenario.puppet.applies == (PuppetApply(exit_code=2), PuppetApply(exit_code=0))
    assert scenario.limits == Limits() and scenario.expect == Expect() and scenario.seed == 0


def test_the_name_defaults_to_the_file_stem_and_can_be_set(tmp_path):
    assert load_scenario(write(tmp_path, HEADER, "late-dns.toml")).name == "late-dns"
    assert load(tmp_path, "").name == "example"
    named = write(tmp_path, '[scenario]\nname = "other"\nsummary = "x"\n', "x.toml")
    assert load_scenario(named).name == "other"


def test_a_full_scenario_loads_into_the_expected_dataclasses(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "vault.yaml").write_bytes(b"secret: 1\n")
    scenario = load_scenario(write(tmp_path, """
        [scenario]
        name = "full"
        summary = "every table"
        reproduces = "test-plan-2"
        seed = 7

        [limits]
        boots = 6
        simulated_s = 86400
        steps = 5000
        real_s = 60

        [host]
        macos_version = "15.3.1"
        build_version = "24D70"
        model = "Mac16,10"
        hostname = "macmini-m4-002.test.releng.mdc1.mozilla.com"
        role = "gecko_t_osx_1500_m4"
        autologin = false
        sip = false
        vault = false
        puppet_installed = true

        [[host.accounts]]
        name = "relops"
        uid = 502
        gid = 80
        home = "/Users/relops"

        [[host.files]]
        path = "/var/root/vault.yaml"
        content_file = "files/vault.yaml"
        mode = "0600"

        [[host.files]]
        path = "/Users/relops/notes"
        content = "hi"
        owner = "relops"
        group = "admin"

        [start]
        how = "ssh"
        at_s = 30
        args = ["-v"]

        [network]
        up_after_s = 45

        [puppet]
        role_model = "atboot"

        [[puppet.applies]]
        exit_code = 1
        duration_s = 10
        output = ["Error: boom"]
        tcc = "missing"

        [[events]]
        at_s = 60
        what = "reboot"

        [[events]]
        at_s = 120
        what = "deliver-file"
        path = "/tmp/dropped"
        content = "x"
        mode = "0755"

        [[events]]
        at_s = 180
        what = "deliver-profile"
        identifier = "com.mozilla.autologin"
        payload = { autoLoginUser = "cltbld" }

        [[events]]
        at_s = 240
        what = "push-commit"
        message = "fix"

        [[events]]
        at_s = 300
        what = "macos-update"
        to_version = "15.4"
        to_build = "24E248"
        reboots = 2

        [[events]]
        at_s = 400
        what = "power-loss"

        [[events]]
        at_s = 500
        what = "halt"

        [expect]
        verdict = "halted"
        boots = 5

        [[expect.files]]
        path = "/etc/issue"
        contains = "System Installed:"
        mode = "0644"
        owner = "root"
        group = "wheel"

        [[expect.loaded]]
        label = "org.mozilla.atboot_puppet"

        [[expect.facts]]
        fact = "puppet-applied"
        count = 3
        at_boot = 2

        [[expect.facts]]
        fact = "puppet-env"
        name = "FACTER_PUPPETIZING"
        value = "true"

        [invariants]
        off = { "no-reboot-loop" = "the update reboots on purpose" }
        expect_violation = ["never-stranded"]
        """))
    profile = plistlib.dumps({"autoLoginUser": "cltbld"})
    assert scenario == Scenario(
        path=tmp_path / "example.toml", name="full", summary="every table", reproduces="test-plan-2",
        seed=7,
        host=Host(hostname="macmini-m4-002.test.releng.mdc1.mozilla.com", role="gecko_t_osx_1500_m4",
                  autologin=False, sip=False, vault=False,
                  files=(FileSpec("/var/root/vault.yaml", b"secret: 1\n", mode=0o600),
                         FileSpec("/Users/relops/notes", b"hi", "relops", "admin")),
                  accounts=(Account("relops", 502, 80, "/Users/relops", "/bin/bash", "relops"),)),
        start=Start(StartHow.SSH, 30.0, ("-v",)), network=NetworkPlan(45.0),
        puppet=PuppetPlan(RoleModel.ATBOOT, (PuppetApply(1, 10.0, ("Error: boom",), Tcc.MISSING),)),
        events=(Reboot(60.0), DeliverFile(120.0, FileSpec("/tmp/dropped", b"x", mode=0o755)),
                DeliverProfile(180.0, "com.mozilla.autologin", profile),
                PushCommit(240.0, "fix", "master"),
                MacosUpdate(300.0, "15.4", "24E248", "24.4.0", 2), PowerLoss(400.0, True), Halt(500.0)),
        limits=Limits(boots=6, simulated_s=86400, steps=5000, real_s=60),
        expect=Expect(verdict=Verdict.HALTED, boots=5,
                      files=(ExpectFile("/etc/issue", True, None, "System Installed:", 0o644, "root", "wheel"),),
                      loaded=(ExpectLoaded("org.mozilla.atboot_puppet", True),),
                      facts=(Fact(FactKind.PUPPET_APPLIED, at_boot=2, count=3),
                             Fact(FactKind.PUPPET_ENV, name="FACTER_PUPPETIZING", value="true"))),
        invariants=Invariants((("no-reboot-loop", "the update reboots on purpose"),), ("never-stranded",)))
    assert [event.kind for event in scenario.events] == [
        EventKind.REBOOT, EventKind.DELIVER_FILE, EventKind.DELIVER_PROFILE, EventKind.PUSH_COMMIT,
        EventKind.MACOS_UPDATE, EventKind.POWER_LOSS, EventKind.HALT]
    assert scenario.invariants.reason_off("no-reboot-loop") == "the update reboots on purpose"
    assert scenario.invariants.reason_off("never-stranded") is None


def test_machine_config_carries_the_host_and_the_network_delay(tmp_path):
    scenario = load(tmp_path, """
        [host]
        macos_version = "14.7.1"
        build_version = "23H222"
        model = "Macmini8,1"
        arch = "x86_64"
        hostname = "macmini-r8-042.test.releng.mdc1.mozilla.com"
        [network]
        up_after_s = 30
        """)
    assert scenario.machine_config() == MachineConfig(
        macos_version="14.7.1", build_version="23H222", kernel_release="23.6.0", model="Macmini8,1",
        arch="x86_64", hostname="macmini-r8-042.test.releng.mdc1.mozilla.com", network_up_after_s=30)


def test_the_darwin_release_follows_the_macos_version():
    assert darwin_release("15.3.1") == "24.3.0"
    assert darwin_release("14.7.1") == "23.6.0"  # macOS x.7 kept Darwin x.6
    assert darwin_release("26.0") == "25.0.0"
    assert darwin_release("10.15") is None


def test_an_explicit_kernel_release_wins_over_the_derived_one(tmp_path):
    scenario = load(tmp_path, '[host]\nkernel_release = "24.3.1"\n')
    assert scenario.host.kernel_release == "24.3.1"


def test_a_counting_fact_without_a_count_means_at_least_once(tmp_path):
    scenario = load(tmp_path, '[[expect.facts]]\nfact = "rebooted"\n')
    assert scenario.expect.facts == (Fact(FactKind.REBOOTED, at_least=1),)


def test_an_operator_run_loads_with_its_arguments_or_none(tmp_path):
    scenario = load(tmp_path, """
        [[events]]
        at_s = 600
        what = "operator-run"
        [[events]]
        at_s = 900
        what = "operator-run"
        args = ["--verbose"]
        """)
    assert scenario.events == (OperatorRun(600.0), OperatorRun(900.0, ("--verbose",)))


def test_a_macos_update_loads_what_its_installer_removes_and_writes(tmp_path):
    scenario = load(tmp_path, """
        [[events]]
        at_s = 1200
        what = "macos-update"
        to_version = "15.4"
        to_build = "24E248"
        removes = ["/usr/local/bin/python3", "/etc/sudoers.d/relops"]
        network_up_after_s = 180

        [[events.files]]
        path = "/Library/Preferences/com.apple.loginwindow.plist"
        content = "<plist/>"
        mode = "0600"
        """)
    assert scenario.events == (MacosUpdate(
        1200.0, "15.4", "24E248", "24.4.0", 1, ("/usr/local/bin/python3", "/etc/sudoers.d/relops"),
        (FileSpec("/Library/Preferences/com.apple.loginwindow.plist", b"<plist/>", mode=0o600),), 180.0),)


def test_an_update_without_side_effects_changes_nothing_but_the_version(tmp_path):
    update = load(tmp_path, UPDATE).events[0]
    assert (update.removes, update.files, update.network_up_after_s) == ((), (), None)


def test_a_mail_fact_counts_and_may_look_for_a_text_in_one_boot(tmp_path):
    scenario = load(tmp_path, """
        [[expect.facts]]
        fact = "mail-sent"
        [[expect.facts]]
        fact = "mail-sent"
        contains = "TCC database missing"
        count = 1
        at_boot = 4
        """)
    assert scenario.expect.facts == (Fact(FactKind.MAIL_SENT, at_least=1),
                                     Fact(FactKind.MAIL_SENT, at_boot=4, count=1, contains="TCC database missing"))


def test_a_checkout_fact_compares_with_master_or_the_branch_it_names(tmp_path):
    scenario = load(tmp_path, """
        [[expect.facts]]
        fact = "checkout-current"
        [[expect.facts]]
        fact = "checkout-current"
        branch = "production"
        """)
    assert scenario.expect.facts == (Fact(FactKind.CHECKOUT_CURRENT), Fact(FactKind.CHECKOUT_CURRENT, branch="production"))
    err = error(tmp_path, '[[expect.facts]]\nfact = "checkout-current"\nbranch = "-x"\n')
    assert_error(err, "expect.facts[0].branch", "a git branch name", '"-x" (a string)')


def test_a_file_can_hold_the_script_under_test_but_not_also_a_content(tmp_path):
    scenario = load(tmp_path, '[[host.files]]\npath = "/usr/local/bin/run-puppet.sh"\nscript_under_test = true\nmode = "0755"\n')
    (spec,) = scenario.host.files
    assert spec.script_under_test and spec.bytes_for(b"#!/bin/bash\n") == b"#!/bin/bash\n" and spec.mode == 0o755
    err = error(tmp_path, '[[host.files]]\npath = "/usr/local/bin/x"\ncontent = "x"\nscript_under_test = true\n')
    assert_error(err, "host.files[0].script_under_test", "one of content, content_file and script_under_test, "
                 "not content and script_under_test", "both")


def test_a_fact_that_counts_nothing_keeps_no_count(tmp_path):
    scenario = load(tmp_path, '[[expect.facts]]\nfact = "semaphore-written"\n')
    assert scenario.expect.facts == (Fact(FactKind.SEMAPHORE_WRITTEN),)


def test_a_file_without_content_is_an_empty_root_owned_0644_file(tmp_path):
    scenario = load(tmp_path, '[[host.files]]\npath = "/var/tmp/semaphore/run-buildbot"\n')
    assert scenario.host.files == (FileSpec("/var/tmp/semaphore/run-buildbot", b"", "root", "wheel", 0o644),)


def test_a_user_added_by_the_scenario_can_own_files(tmp_path):
    scenario = load(tmp_path, """
        [[host.accounts]]
        name = "worker"
        uid = 600
        gid = 20
        home = "/Users/worker"
        [[host.files]]
        path = "/Users/worker/x"
        owner = "worker"
        group = "staff"
        """)
    assert scenario.host.files[0].owner == "worker"


def test_load_scenarios_reads_files_and_directories_in_name_order(tmp_path):
    write(tmp_path / "dir", HEADER, "b.toml")
    write(tmp_path / "dir", HEADER, "a.toml")
    (tmp_path / "dir" / "notes.txt").write_text("not a scenario")
    single = write(tmp_path, HEADER, "c.toml")
    assert [s.name for s in load_scenarios([tmp_path / "dir", single])] == ["a", "b", "c"]


# The error itself


def test_a_scenario_error_is_a_value_error_that_reads_as_one_line(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = "ten"\nwhat = "reboot"\n')
    assert isinstance(err, ValueError)
    assert str(err) == (f'{tmp_path / "example.toml"}: events[0].at_s: expected a number of seconds '
                        f'>= 0, found "ten" (a string). Fix: write it like: at_s = 600')


def test_the_error_names_the_file_as_the_caller_gave_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "scenarios", HEADER + "[limits]\nboots = 0\n", "x.toml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(Path("scenarios/x.toml"))
    assert str(caught.value).startswith("scenarios/x.toml: limits.boots: expected an integer from 1 to 1000")


def test_format_error_prints_one_labelled_line_per_part(tmp_path):
    err = error(tmp_path, "[start]\nhow = \"mdm\"\n")
    assert format_error(err) == "\n".join([
        f"macsim: bad scenario {tmp_path / 'example.toml'}",
        "  key:      start.how",
        '  expected: one of "mdm-script-job", "ssh", "daemon", "none"',
        '  found:    "mdm" (a string)',
        '  fix:      did you mean "mdm-script-job"?'])
    assert EXIT_BAD_INPUT == 2


def test_a_scenario_error_survives_pickling_with_all_its_parts(tmp_path):
    err = error(tmp_path, "x = = 1\n", header=False)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.file, copy.key_path, copy.line, copy.expected, copy.found, copy.fix, str(copy)) == (
        err.file, err.key_path, err.line, err.expected, err.found, err.fix, str(err))


# The file itself


def test_a_toml_syntax_error_reports_the_line_and_the_source(tmp_path):
    err = error(tmp_path, '[limits]\nboots = 3\nsteps = ten\n')
    assert (err.line, err.key_path, err.expected) == (5, "", "valid TOML")
    assert err.found == "`steps = ten` (column 9: Invalid value)"
    assert str(err).startswith(f"{tmp_path / 'example.toml'}:5: expected valid TOML")


def test_a_toml_error_at_the_end_of_the_file_names_the_last_line(tmp_path):
    err = error(tmp_path, '[start]\nargs = ["a",', header=False)
    assert (err.line, err.expected) == (2, "valid TOML")
    assert err.found.endswith("at the end of the file")


def test_a_file_that_is_not_utf8_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scenario]\nsummary = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert (caught.value.line, caught.value.expected, caught.value.found) == (
        2, "UTF-8 text", "the byte 0xe9, which is not UTF-8")


def test_a_missing_scenario_file_is_one_error(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "nope.toml")
    assert_error(caught.value, "", "a scenario file (TOML)", "no such file")


# Unknown keys


def test_an_unknown_top_level_key_suggests_the_closest_table(tmp_path):
    err = error(tmp_path, '[hots]\nrole = "x"\n')
    assert_error(err, "hots", "one of the keys of a scenario file: scenario, host, start, network, "
                 "puppet, mdm, broker, events, limits, expect, invariants", 'an unknown key "hots"')
    assert err.fix == 'did you mean "host"?'


def test_an_unknown_key_deep_in_an_array_of_tables_suggests_the_closest_key(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\ncontents = "y"\n')
    assert_error(err, "host.files[0].contents", "one of the keys of [[host.files]]: path, content, "
                 "content_file, script_under_test, directory, owner, group, mode", 'an unknown key "contents"')
    assert err.fix == 'did you mean "content"?'


def test_a_key_in_the_wrong_table_says_where_it_belongs(tmp_path):
    err = error(tmp_path, '[host]\nup_after_s = 30\n')
    assert (err.key_path, err.found) == ("host.up_after_s", 'an unknown key "up_after_s"')
    assert err.fix == '"up_after_s" is a key of [network]: move it there'


def test_an_unknown_key_with_nothing_close_asks_to_remove_it(tmp_path):
    err = error(tmp_path, '[network]\nzzz = 1\n')
    assert (err.key_path, err.fix) == ("network.zzz", "remove it, or correct its spelling")


def test_a_missing_scenario_table_is_reported_first(tmp_path):
    err = error(tmp_path, '[host]\nrole = "x"\n', header=False)
    assert_error(err, "scenario", "a table [scenario] with at least a summary", "nothing (the table is missing)")


# Types


def test_a_string_where_seconds_are_expected_is_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 0\nwhat = "reboot"\n[[events]]\nat_s = 1\nwhat = "reboot"\n'
                '[[events]]\nat_s = "ten"\nwhat = "reboot"\n')
    assert_error(err, "events[2].at_s", "a number of seconds >= 0", '"ten" (a string)')


def test_a_boolean_is_not_an_integer(tmp_path):
    err = error(tmp_path, "[limits]\nboots = true\n")
    assert_error(err, "limits.boots", "an integer from 1 to 1000", "true (a boolean)")


def test_a_boolean_is_not_a_number_of_seconds(tmp_path):
    err = error(tmp_path, "[network]\nup_after_s = false\n")
    assert_error(err, "network.up_after_s", "a number of seconds >= 0", "false (a boolean)")


def test_a_float_is_not_an_integer(tmp_path):
    err = error(tmp_path, "[limits]\nsteps = 1.5\n")
    assert_error(err, "limits.steps", "an integer >= 1", "1.5 (a float)")


def test_a_quoted_boolean_is_a_string(tmp_path):
    err = error(tmp_path, '[host]\nsip = "true"\n')
    assert_error(err, "host.sip", "a boolean (true or false, without quotes)", '"true" (a string)')
    assert err.fix == "write it like: sip = true"


def test_infinite_seconds_are_rejected(tmp_path):
    err = error(tmp_path, "[[puppet.applies]]\nduration_s = inf\n")
    assert_error(err, "puppet.applies[0].duration_s", "a number of seconds >= 0", "inf (a float)")


def test_a_table_where_a_value_is_expected_is_rejected(tmp_path):
    err = error(tmp_path, "[host.role]\nname = \"x\"\n")
    assert err.key_path == "host.role" and err.found == "a table"


def test_a_value_where_a_table_is_expected_is_rejected(tmp_path):
    err = error(tmp_path, 'start = "ssh"\n' + HEADER, header=False)
    assert_error(err, "start", "a table [start]", '"ssh" (a string)')


def test_a_single_events_table_must_be_an_array_of_tables(tmp_path):
    err = error(tmp_path, '[events]\nat_s = 1\nwhat = "reboot"\n')
    assert_error(err, "events", "an array of tables [[events]]", "a table")
    assert err.fix == "write [[events]] (double brackets) before the keys of each entry"


def test_a_non_string_in_an_array_of_strings_is_pinned_to_its_index(tmp_path):
    err = error(tmp_path, '[[puppet.applies]]\noutput = ["Notice: ok", 3]\n')
    assert_error(err, "puppet.applies[0].output[1]", "a one-line string", "3 (an integer)")


def test_a_multi_line_summary_is_rejected(tmp_path):
    err = error(tmp_path, '[scenario]\nsummary = """two\nlines"""\n', header=False)
    assert_error(err, "scenario.summary", "a non-empty one-line string", '"two\\nlines" (a string)')


# Ranges and closed lists


def test_an_exit_code_puppet_never_returns_is_rejected(tmp_path):
    err = error(tmp_path, "[[puppet.applies]]\nexit_code = 3\n")
    assert_error(err, "puppet.applies[0].exit_code", "one of 0, 1, 2, 4, 6", "3 (an integer)")


def test_negative_seconds_are_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = -5\nwhat = "reboot"\n')
    assert_error(err, "events[0].at_s", "a number of seconds >= 0", "-5 (an integer)")


def test_an_unknown_event_kind_lists_the_kinds_and_suggests_one(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "rebot"\n')
    assert_error(err, "events[0].what", 'one of "reboot", "halt", "power-loss", "macos-update", '
                 '"deliver-file", "deliver-profile", "push-commit", "operator-run", "remove-files"', '"rebot" (a string)')
    assert err.fix == 'did you mean "reboot"?'


def test_an_unknown_verdict_lists_the_verdicts(tmp_path):
    err = error(tmp_path, '[expect]\nverdict = "ok"\n')
    assert err.expected == ('one of "quiet", "blocked", "idle", "halted", "powered-off", "limit-boots", '
                            '"limit-simulated-time", "limit-steps", "limit-real-time", "limit-processes", '
                            '"limit-memory"')


def test_a_time_past_the_simulated_time_limit_is_rejected(tmp_path):
    err = error(tmp_path, '[limits]\nsimulated_s = 100\n[[events]]\nat_s = 100\nwhat = "reboot"\n')
    assert_error(err, "events[0].at_s", "a time before limits.simulated_s (100 s)", "100 (an integer)")


def test_expected_boots_above_the_boot_limit_are_rejected(tmp_path):
    err = error(tmp_path, "[limits]\nboots = 3\n[expect]\nboots = 4\n")
    assert_error(err, "expect.boots", "an integer from 1 to 3", "4 (an integer)")


def test_a_malformed_macos_version_is_rejected(tmp_path):
    err = error(tmp_path, '[host]\nmacos_version = "15"\nbuild_version = "24A335"\n')
    assert_error(err, "host.macos_version", 'a macOS version "MAJOR.MINOR" or "MAJOR.MINOR.PATCH"',
                 '"15" (a string)')


def test_an_unknown_macos_major_is_rejected_unless_its_kernel_release_is_given(tmp_path):
    err = error(tmp_path, '[host]\nmacos_version = "10.15.7"\nbuild_version = "19H2026"\n')
    assert_error(err, "host.macos_version", "a macOS major version macsim knows (11, 12, 13, 14, 15, 26)",
                 '"10.15.7" (a string)')
    scenario = load(tmp_path, '[host]\nmacos_version = "10.15.7"\nbuild_version = "19H2026"\n'
                              'kernel_release = "19.6.0"\n')
    assert scenario.host.kernel_release == "19.6.0"


# Required keys


def test_a_missing_summary_is_reported_with_an_example(tmp_path):
    err = error(tmp_path, '[scenario]\nname = "x"\n', header=False)
    assert_error(err, "scenario.summary", "a non-empty one-line string", "nothing (the key is missing)")
    assert err.fix == 'add it, e.g. summary = "text"'


def test_a_macos_version_without_its_build_is_rejected(tmp_path):
    err = error(tmp_path, '[host]\nmacos_version = "14.7.1"\n')
    assert_error(err, "host.build_version",
                 'a macOS build version like "24D70" (required with host.macos_version)',
                 "nothing (the key is missing)")


def test_a_file_without_a_path_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\ncontent = "x"\n')
    assert_error(err, "host.files[0].path", "an absolute macOS path (starting with /)",
                 "nothing (the key is missing)")


# Paths and files


def test_a_relative_path_where_a_macos_path_is_needed_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "etc/puppet_role"\n')
    assert_error(err, "host.files[0].path", "an absolute macOS path (starting with /)",
                 '"etc/puppet_role" (a string)')
    assert err.fix == 'start it with "/", e.g. "/etc/puppet_role"'


def test_a_path_that_is_not_normalized_is_rejected_with_its_normal_form(tmp_path):
    err = error(tmp_path, '[[expect.files]]\npath = "/var/tmp//semaphore/../semaphore/run-buildbot"\n')
    assert err.key_path == "expect.files[0].path"
    assert err.expected == "a normalized absolute macOS path (no //, /./, /../ or trailing /)"
    assert err.fix == 'write it as "/var/tmp/semaphore/run-buildbot"'


def test_a_path_on_the_hosts_read_only_trees_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/usr/bin/puppet"\n')
    assert err.key_path == "host.files[0].path"
    assert err.expected.startswith("a path on the Mac's disk")


def test_a_host_file_under_tmp_is_rejected_because_boot_empties_it(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/private/tmp/guard"\n')
    assert err.key_path == "host.files[0].path"
    assert err.expected.startswith("a path that survives boot")
    assert err.fix == 'deliver it with an event instead: what = "deliver-file"'


def test_a_content_file_that_does_not_exist_is_rejected_relative_to_the_scenario(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\ncontent_file = "files/x"\n')
    assert_error(err, "host.files[0].content_file", "an existing file (relative to the scenario file)",
                 f"no such file: {tmp_path / 'files' / 'x'}")


def test_a_content_file_given_as_an_absolute_path_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\ncontent_file = "/etc/hosts"\n')
    assert_error(err, "host.files[0].content_file", "a path relative to the scenario file",
                 '"/etc/hosts" (a string)')


def test_content_and_content_file_together_are_rejected(tmp_path):
    (tmp_path / "x").write_text("x")
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\ncontent = "y"\ncontent_file = "x"\n')
    assert_error(err, "host.files[0].content_file", "one of content, content_file and script_under_test, not content and content_file", "both")


def test_a_file_set_twice_through_the_etc_alias_is_rejected(tmp_path):
    err = error(tmp_path, '[host]\nrole = "r"\n[[host.files]]\npath = "/private/etc/puppet_role"\n')
    assert_error(err, "host.files[0].path", "a path not already set by host.role",
                 '"/private/etc/puppet_role" (a string)')


def test_an_owner_that_is_not_a_user_of_the_mac_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\nowner = "cltbd"\n')
    assert err.key_path == "host.files[0].owner" and err.found == '"cltbd" (a string)'
    assert err.expected.startswith("a user on the Mac: nobody, root, daemon")
    assert err.fix == 'did you mean "cltbld"?'


def test_an_account_that_already_exists_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.accounts]]\nname = "cltbld"\nuid = 600\ngid = 20\nhome = "/Users/c"\n')
    assert_error(err, "host.accounts[0].name", "a user not already on the Mac", '"cltbld" (a string)')


def test_an_account_with_a_gid_no_group_has_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.accounts]]\nname = "w"\nuid = 600\ngid = 501\nhome = "/Users/w"\n')
    assert err.key_path == "host.accounts[0].gid" and err.found == "501 (an integer)"
    assert "20 (staff)" in err.expected


# Modes


def test_a_mode_with_a_non_octal_digit_is_rejected(tmp_path):
    err = error(tmp_path, '[[host.files]]\npath = "/etc/x"\nmode = "0689"\n')
    assert_error(err, "host.files[0].mode", 'a string of 3 or 4 octal digits, like "0644"', '"0689" (a string)')


def test_a_mode_written_as_a_number_is_rejected_with_a_fix(tmp_path):
    err = error(tmp_path, '[[expect.files]]\npath = "/etc/x"\nmode = 0o600\n')
    assert_error(err, "expect.files[0].mode", 'a string of 3 or 4 octal digits, like "0644"', "384 (an integer)")
    assert err.fix.startswith("quote it")


# Events and their kinds


def test_an_event_without_what_is_rejected(tmp_path):
    err = error(tmp_path, "[[events]]\nat_s = 1\n")
    assert (err.key_path, err.found) == ("events[0].what", "nothing (the key is missing)")


def test_the_second_of_two_updates_missing_its_version_is_pinned_to_its_index(tmp_path):
    err = error(tmp_path, """
        [[events]]
        at_s = 100
        what = "macos-update"
        to_version = "15.4"
        to_build = "24E248"
        [[events]]
        at_s = 200
        what = "macos-update"
        to_build = "24F74"
        """)
    assert_error(err, "events[1].to_version", 'a macOS version "MAJOR.MINOR" or "MAJOR.MINOR.PATCH"',
                 "nothing (the key is missing)")


def test_a_deliver_file_event_needs_a_path(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "deliver-file"\ncontent = "r"\n')
    assert (err.key_path, err.found) == ("events[0].path", "nothing (the key is missing)")


def test_a_push_commit_event_needs_a_message(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "push-commit"\n')
    assert (err.key_path, err.expected) == ("events[0].message", "a non-empty one-line string")


def test_a_key_of_another_event_kind_is_rejected_naming_its_kind(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "power-loss"\nmessage = "x"\n')
    assert_error(err, "events[0].message", 'one of the keys of a "power-loss" event: at_s, what, restored',
                 'an unknown key "message"')
    assert err.fix == '"message" belongs to "push-commit" events: remove it here'


UPDATE = '[[events]]\nat_s = 1\nwhat = "macos-update"\nto_version = "15.4"\nto_build = "24E248"\n'


def test_what_an_update_removes_must_be_an_array_of_paths(tmp_path):
    err = error(tmp_path, UPDATE + 'removes = "/usr/local/bin/python3"\n')
    assert_error(err, "events[0].removes", "an array of absolute macOS paths",
                 '"/usr/local/bin/python3" (a string)')


def test_a_relative_path_an_update_removes_is_pinned_to_its_index(tmp_path):
    err = error(tmp_path, UPDATE + 'removes = ["/opt/x", "usr/local/bin/x"]\n')
    assert_error(err, "events[0].removes[1]", "an absolute macOS path (starting with /)",
                 '"usr/local/bin/x" (a string)')
    assert err.fix == 'start it with "/", e.g. "/usr/local/bin/x"'


@pytest.mark.parametrize("path", ["/Library", "/var", "/private/etc", "/usr/local"])
def test_an_update_cannot_remove_a_top_level_folder_of_the_disk(tmp_path, path):
    err = error(tmp_path, UPDATE + f'removes = ["{path}"]\n')
    assert_error(err, "events[0].removes[0]", "a path inside a top-level folder of the disk (not /, /Library, "
                 "/Users, /opt, /private/var, /usr/local, ...)", f'"{path}" (a string)')


def test_an_update_cannot_remove_the_hosts_trees(tmp_path):
    err = error(tmp_path, UPDATE + 'removes = ["/usr/bin/python3"]\n')
    assert err.key_path == "events[0].removes[0]" and err.expected.startswith("a path on the Mac's disk")


def test_a_path_an_update_removes_twice_through_an_alias_is_rejected(tmp_path):
    err = error(tmp_path, UPDATE + 'removes = ["/etc/hosts.equiv", "/private/etc/hosts.equiv"]\n')
    assert_error(err, "events[0].removes[1]", "each path once",
                 '"/private/etc/hosts.equiv", already removes[0]')


def test_a_file_an_update_writes_cannot_also_be_removed(tmp_path):
    err = error(tmp_path, UPDATE + 'removes = ["/opt/a", "/opt/b"]\n[[events.files]]\npath = "/opt/b"\n')
    assert_error(err, "events[0].files[0].path", "a path that removes does not list (a file the update "
                 "writes replaces what was there)", '"/opt/b" (a string)')
    assert err.fix == "remove it from removes[1]"


def test_a_file_an_update_writes_is_checked_like_a_host_file(tmp_path):
    err = error(tmp_path, UPDATE + '[[events.files]]\npath = "/opt/b"\nmode = 644\n')
    assert err.key_path == "events[0].files[0].mode" and err.fix.startswith("quote it")
    err = error(tmp_path, UPDATE + '[[events.files]]\npath = "/opt/b"\nmod = "0644"\n')
    assert_error(err, "events[0].files[0].mod", "one of the keys of [[events.files]]: path, content, "
                 "content_file, script_under_test, directory, owner, group, mode", 'an unknown key "mod"')


def test_an_update_writing_one_file_twice_is_rejected(tmp_path):
    err = error(tmp_path, UPDATE + '[[events.files]]\npath = "/etc/x"\n[[events.files]]\npath = "/private/etc/x"\n')
    assert (err.key_path, err.expected) == ("events[0].files[1].path",
                                            "a path not already set by events[0].files[0].path")


def test_the_network_delay_after_an_update_is_seconds(tmp_path):
    err = error(tmp_path, UPDATE + "network_up_after_s = -1\n")
    assert_error(err, "events[0].network_up_after_s", "a number of seconds >= 0", "-1 (an integer)")


def test_update_side_effects_on_another_event_kind_are_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "reboot"\nremoves = ["/opt/x"]\n')
    assert err.key_path == "events[0].removes"
    assert err.fix == '"removes" belongs to "macos-update" events: remove it here'


def test_an_operator_runs_arguments_are_one_line_strings(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "operator-run"\nargs = ["-v", 2]\n')
    assert_error(err, "events[0].args[1]", "a non-empty one-line string", "2 (an integer)")


def test_arguments_on_another_event_kind_belong_to_operator_runs(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "halt"\nargs = ["-v"]\n')
    assert err.fix == '"args" belongs to "operator-run" events: remove it here'


def test_a_mail_fact_looks_for_a_non_empty_text(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "mail-sent"\ncontains = ""\n')
    assert_error(err, "expect.facts[0].contains", "a non-empty one-line string", '"" (a string)')
    err = error(tmp_path, '[[expect.facts]]\nfact = "rebooted"\ncontains = "x"\n')
    assert err.fix == '"contains" belongs to "mail-sent": remove it here'


def test_events_out_of_time_order_are_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 600\nwhat = "reboot"\n[[events]]\nat_s = 300\nwhat = "reboot"\n')
    assert_error(err, "events[1].at_s", "a time >= 600 (events are listed in time order; events[0] is at 600)",
                 "300 (an integer)")


def test_an_event_after_an_unrestored_power_loss_is_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "power-loss"\nrestored = false\n'
                '[[events]]\nat_s = 2\nwhat = "reboot"\n')
    assert_error(err, "events[1].what", "no event after events[0], which leaves the Mac off", '"reboot" (a string)')


def test_an_update_to_an_older_version_is_rejected(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "macos-update"\nto_version = "15.3"\nto_build = "24D60"\n')
    assert_error(err, "events[0].to_version", "a version newer than 15.3.1 (the version then)", '"15.3" (a string)')


def test_a_profile_payload_must_be_a_table(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "deliver-profile"\nidentifier = "a.b"\npayload = 3\n')
    assert_error(err, "events[0].payload", "a table of the profile's settings", "3 (an integer)")


def test_a_profile_payload_value_a_plist_cannot_hold_is_pinned_to_its_key(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "deliver-profile"\nidentifier = "a.b"\n'
                'payload = { Dates = [1979-05-27] }\n')
    assert (err.key_path, err.found) == ("events[0].payload.Dates[0]", "1979-05-27 (a date)")


# Start, expectations, facts, invariants


def test_a_start_time_for_a_daemon_start_is_rejected(tmp_path):
    err = error(tmp_path, '[start]\nhow = "daemon"\nat_s = 10\n')
    assert_error(err, "start.at_s", 'no at_s with how = "daemon" (nothing is started by hand)', "10 (an integer)")


def test_boots_and_boots_at_most_together_are_rejected(tmp_path):
    err = error(tmp_path, "[expect]\nboots = 2\nboots_at_most = 3\n")
    assert_error(err, "expect.boots_at_most", "either boots or boots_at_most, not both", "both")


def test_a_file_expected_absent_cannot_have_expected_content(tmp_path):
    err = error(tmp_path, '[[expect.files]]\npath = "/etc/x"\npresent = false\ncontains = "y"\n')
    assert_error(err, "expect.files[0].contains", "no contains for a file expected absent (present = false)",
                 '"y" (a string)')


def test_an_unknown_fact_suggests_the_closest(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "puppet-apply"\n')
    assert err.key_path == "expect.facts[0].fact" and err.fix == 'did you mean "puppet-applied"?'


def test_a_fact_missing_a_key_it_needs_is_rejected(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "puppet-env"\nname = "FACTER_PUPPETIZING"\n')
    assert_error(err, "expect.facts[0].value", "a string", "nothing (the key is missing)")


def test_a_fact_with_a_key_of_another_fact_is_rejected(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "semaphore-written"\ncount = 2\n')
    assert_error(err, "expect.facts[0].count", 'one of the keys of the fact "semaphore-written": fact, at_boot',
                 'an unknown key "count"')


def test_an_exact_count_with_a_bound_is_rejected(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "puppet-applied"\ncount = 2\nat_most = 3\n')
    assert_error(err, "expect.facts[0].count", "either count, or at_least and/or at_most", "count with a bound")


def test_bounds_in_the_wrong_order_are_rejected(tmp_path):
    err = error(tmp_path, '[[expect.facts]]\nfact = "rebooted"\nat_least = 3\nat_most = 1\n')
    assert_error(err, "expect.facts[0].at_most", "a number >= at_least (3)", "1 (an integer)")


def test_a_script_exit_fact_needs_a_started_script(tmp_path):
    err = error(tmp_path, '[start]\nhow = "none"\n[[expect.facts]]\nfact = "script-exited"\nstatus = 0\n')
    assert err.key_path == "expect.facts[0].fact"
    assert err.found == '"script-exited" with start.how = "none"'


def test_an_unknown_invariant_suggests_the_closest(tmp_path):
    err = error(tmp_path, '[invariants]\noff = { "no-reboot-loops" = "why" }\n')
    assert err.key_path == "invariants.off.no-reboot-loops"
    assert err.found == 'an unknown invariant "no-reboot-loops"'
    assert err.fix == 'did you mean "no-reboot-loop"?'


def test_switching_an_invariant_off_needs_a_reason(tmp_path):
    err = error(tmp_path, '[invariants]\noff = { "never-stranded" = "" }\n')
    assert_error(err, "invariants.off.never-stranded", "a reason (one line)", '"" (a string)')


def test_an_invariant_cannot_be_both_off_and_expected_to_fail(tmp_path):
    err = error(tmp_path, '[invariants]\noff = { "never-stranded" = "x" }\nexpect_violation = ["never-stranded"]\n')
    assert_error(err, "invariants.expect_violation[0]", "an invariant that is not switched off", '"never-stranded" (a string)')


def test_an_empty_list_of_applies_is_rejected(tmp_path):
    err = error(tmp_path, "[puppet]\napplies = []\n")
    assert_error(err, "puppet.applies", "at least one [[puppet.applies]]", "[] (an empty array)")


# Several files


def test_two_scenarios_with_the_same_name_are_rejected(tmp_path):
    write(tmp_path, HEADER, "a.toml")
    write(tmp_path, '[scenario]\nname = "a"\nsummary = "x"\n', "b.toml")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([tmp_path])
    assert caught.value.file == tmp_path / "b.toml"
    assert (caught.value.key_path, caught.value.found) == ("scenario.name", f'"a", already used by {tmp_path / "a.toml"}')


def test_a_directory_without_scenarios_is_rejected(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([tmp_path])
    assert (caught.value.file, caught.value.expected) == (tmp_path, "a directory with scenario files (*.toml)")


# The documentation's examples


def doc_blocks(marker: str) -> list[str]:
    """The fenced blocks of docs/scenarios.md whose info string is exactly `marker`."""
    return re.findall(rf"^```{marker}\n(.*?)^```$", DOCS.read_text(), flags=re.M | re.S)


def doc_files() -> dict[str, str]:
    """The files the documentation shows beside its examples (```LANG file=PATH blocks)."""
    return dict(re.findall(r"^```\w+ file=(\S+)\n(.*?)^```$", DOCS.read_text(), flags=re.M | re.S))


def with_content_files(directory: Path, text: str) -> None:
    """Creates the files a block names in content_file (as the documentation shows them, else a
    placeholder), so the block can load."""
    shown = doc_files()
    def walk(value) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("content_file"), str):
                target = directory / value["content_file"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(shown.get(value["content_file"], "placeholder\n"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    walk(tomllib.loads(text))


def test_the_documentation_has_complete_fragment_and_invalid_examples():
    assert len(doc_blocks("toml complete")) >= 4
    assert len(doc_blocks("toml")) >= 14
    assert len(doc_blocks("toml invalid")) == len(doc_blocks("text")) - 1  # one more: the intro


@pytest.mark.parametrize("index", range(len(doc_blocks("toml complete"))))
def test_each_complete_example_of_the_documentation_loads(tmp_path, index):
    text = doc_blocks("toml complete")[index]
    with_content_files(tmp_path, text)
    load_scenario(write(tmp_path, text))


@pytest.mark.sandbox
@pytest.mark.parametrize("index", range(len(doc_blocks("toml complete"))))
def test_each_complete_example_of_the_documentation_passes_against_the_built_in_bootstrap(tmp_path, index):
    text = doc_blocks("toml complete")[index]
    with_content_files(tmp_path, text)
    run = run_scenario(load_scenario(write(tmp_path, text)), DEFAULT_SCRIPT.read_bytes(), "run-puppet.sh",
                       tmp_path / "mac")
    assert run.verdict == "pass", [f"[{v.invariant}] {v.message}" for v in run.violations]


@pytest.mark.parametrize("index", range(len(doc_blocks("toml"))))
def test_each_fragment_of_the_documentation_loads_on_its_own(tmp_path, index):
    text = doc_blocks("toml")[index]
    with_content_files(tmp_path, text)
    load_scenario(write(tmp_path, text if "[scenario]" in text else HEADER + text))


@pytest.mark.parametrize("index", range(len(doc_blocks("toml invalid"))))
def test_each_invalid_example_of_the_documentation_fails_as_shown(tmp_path, monkeypatch, index):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "scenarios", doc_blocks("toml invalid")[index])
    with pytest.raises(ScenarioError) as caught:
        load_scenario(Path("scenarios/example.toml"))
    assert str(caught.value) == doc_blocks("text")[index + 1].strip()


def test_network_up_after_s_under_host_points_to_the_network_table(tmp_path):
    err = error(tmp_path, "[host]\nnetwork_up_after_s = 30\n")
    assert err.key_path == "host.network_up_after_s"
    assert err.fix.startswith("a network that comes up late after every boot is [network] up_after_s = N")


# A disk of a size, bounded processes: what a scenario says about them


def test_a_scenario_sets_its_disks_free_space_and_its_process_and_memory_limits(tmp_path):
    scenario = load(tmp_path, """
        [host]
        disk_free_mb = 48

        [[puppet.applies]]
        writes_mb = 64

        [limits]
        processes = 64
        memory_mb = 256
    """)
    assert scenario.machine_config().disk_free_mb == 48
    assert (scenario.limits.processes, scenario.limits.memory_mb) == (64, 256)
    assert scenario.puppet.applies[0].writes_mb == 64
    assert load(tmp_path, "").machine_config().disk_free_mb == MachineConfig.disk_free_mb


def test_a_process_limit_too_small_for_a_shell_is_rejected(tmp_path):
    err = error(tmp_path, "[limits]\nprocesses = 2\n")
    assert err.key_path == "limits.processes" and err.expected.startswith("an integer")


def test_a_remove_files_event_removes_what_it_names_when_it_comes(tmp_path):
    scenario = load(tmp_path, """
        [[events]]
        at_s = 60
        what = "remove-files"
        paths = ["/Library/Caches/puppet-downloads", "/Users/Shared/nothing-there"]
    """)
    assert [(event.kind, event.paths) for event in scenario.events] == [
        (EventKind.REMOVE_FILES, ("/Library/Caches/puppet-downloads", "/Users/Shared/nothing-there"))]
    script = b"#!/bin/bash\nmkdir -p /Library/Caches/puppet-downloads\nsleep 120\nls /Library/Caches\n"
    run = run_scenario(scenario, script, "s.sh", tmp_path / "mac", claims="any")
    assert "puppet-downloads" not in run.machine.output()
    assert any(e.kind == "scheduled" and "removed by hand" in e.data["what"] for e in run.result.trace.events)


def test_a_remove_files_event_without_paths_says_what_to_add(tmp_path):
    err = error(tmp_path, '[[events]]\nat_s = 1\nwhat = "remove-files"\n')
    assert err.key_path == "events[0].paths" and 'paths = ["/Library/Caches/puppet-downloads"]' in err.fix
