"""Tests for harness.plist: which plists launchd accepts, and what it learns from them.

Error numbers are launchctl's (macos-behaviour.md §3); key semantics are launchd.plist(5)'s
(§6); the ownership rule is §2.1.
"""
from __future__ import annotations

import plistlib
import stat

import pytest

from harness.mac.plist import KeepAlive, PlistRejected, check_ownership, parse_job

PATH = "/Library/LaunchDaemons/org.example.job.plist"


def job(**keys) -> bytes:
    """A plist with a Label and a program unless the caller overrides or drops them (None)."""
    data = {"Label": "org.example.job", "ProgramArguments": ["/bin/bash", "/usr/local/bin/job.sh"]}
    data.update(keys)
    return plistlib.dumps({k: v for k, v in data.items() if v is not None})


def rejection(content: bytes) -> PlistRejected:
    with pytest.raises(PlistRejected) as caught:
        parse_job(content, PATH)
    return caught.value


# What makes a plist unloadable


def test_a_plist_without_a_label_is_rejected_with_error_110():
    assert rejection(job(Label=None)).code == 110


def test_a_plist_with_an_empty_label_is_rejected_with_error_110():
    assert rejection(job(Label="")).code == 110


def test_a_plist_with_a_label_that_is_not_a_string_is_rejected_with_error_110():
    assert rejection(job(Label=42)).code == 110


def test_a_plist_without_program_or_program_arguments_is_rejected_with_error_111():
    assert rejection(job(ProgramArguments=None)).code == 111


def test_a_plist_whose_program_arguments_hold_a_number_is_rejected_with_error_111():
    assert rejection(job(ProgramArguments=["/bin/sleep", 5])).code == 111


def test_garbage_bytes_are_rejected_as_an_invalid_property_list_with_error_109():
    assert rejection(b"this is not a plist\x00\xff").code == 109


def test_a_plist_whose_top_level_is_an_array_is_rejected_with_error_109():
    assert rejection(plistlib.dumps(["Label", "org.example.job"])).code == 109


def test_a_rejection_is_a_value_error_that_says_why():
    rejected = rejection(job(Label=None))
    assert isinstance(rejected, ValueError)
    assert "Label" in str(rejected)


# What launchd reads from an accepted plist


def test_program_alone_is_enough_and_becomes_the_only_argument():
    spec = parse_job(job(ProgramArguments=None, Program="/usr/local/bin/job"), PATH)
    assert spec.program == "/usr/local/bin/job"
    assert spec.arguments == ("/usr/local/bin/job",)


def test_without_program_the_first_argument_is_the_program():
    spec = parse_job(job(), PATH)
    assert spec.program == "/bin/bash"
    assert spec.arguments == ("/bin/bash", "/usr/local/bin/job.sh")
    assert spec.path == PATH


def test_a_plain_plist_has_launchds_defaults():
    spec = parse_job(job(), PATH)
    assert spec.run_at_load is False
    assert spec.keep_alive == KeepAlive()
    assert spec.throttle_interval_s == 10
    assert spec.exit_timeout_s is None  # the machine's default applies
    assert spec.abandon_process_group is False
    assert spec.starts_at_load is False
    assert spec.ignored_keys == ()


def test_keys_of_the_wrong_type_are_ignored_and_listed():
    spec = parse_job(job(RunAtLoad="yes", StartInterval="60", ExitTimeOut=True,
                         WorkingDirectory=["/var/tmp"], UserName=501), PATH)
    assert spec.run_at_load is False
    assert spec.start_interval_s is None
    assert spec.exit_timeout_s is None
    assert spec.working_directory is None
    assert spec.user_name is None
    assert sorted(spec.ignored_keys) == ["ExitTimeOut", "RunAtLoad", "StartInterval", "UserName",
                                         "WorkingDirectory"]


def test_exit_timeout_spelled_with_a_lower_case_o_does_nothing():
    assert parse_job(job(ExitTimeout=30), PATH).exit_timeout_s is None
    assert parse_job(job(ExitTimeOut=30), PATH).exit_timeout_s == 30


def test_a_throttle_interval_of_zero_is_ignored_and_the_default_10_s_applies():
    assert parse_job(job(ThrottleInterval=0), PATH).throttle_interval_s == 10


def test_a_throttle_interval_is_taken_in_seconds():
    assert parse_job(job(ThrottleInterval=25), PATH).throttle_interval_s == 25


def test_keep_alive_true_means_always_and_implies_run_at_load():
    spec = parse_job(job(KeepAlive=True), PATH)
    assert spec.keep_alive == KeepAlive(always=True)
    assert spec.starts_at_load


def test_keep_alive_false_is_demand_only():
    spec = parse_job(job(KeepAlive=False), PATH)
    assert spec.keep_alive == KeepAlive()
    assert not spec.starts_at_load


@pytest.mark.parametrize("successful_exit", [True, False])
def test_keep_alive_successful_exit_is_read_either_way_and_implies_run_at_load(successful_exit):
    spec = parse_job(job(KeepAlive={"SuccessfulExit": successful_exit}), PATH)
    assert spec.keep_alive.successful_exit is successful_exit
    assert not spec.keep_alive.always
    assert spec.starts_at_load


def test_keep_alive_crashed_is_read():
    assert parse_job(job(KeepAlive={"Crashed": True}), PATH).keep_alive.crashed is True


def test_keep_alive_path_state_lists_each_path_with_its_wanted_state():
    spec = parse_job(job(KeepAlive={"PathState": {"/var/tmp/go": True, "/var/tmp/stop": False}}), PATH)
    assert spec.keep_alive.path_state == (("/var/tmp/go", True), ("/var/tmp/stop", False))
    assert not spec.starts_at_load


def test_keep_alive_path_state_that_is_not_a_dictionary_is_ignored_and_listed():
    spec = parse_job(job(KeepAlive={"PathState": "/var/tmp/go"}), PATH)
    assert spec.keep_alive.path_state == ()
    assert "KeepAlive.PathState" in spec.ignored_keys


def test_keep_alive_of_another_type_is_ignored_and_listed():
    spec = parse_job(job(KeepAlive="always"), PATH)
    assert spec.keep_alive == KeepAlive()
    assert "KeepAlive" in spec.ignored_keys


def test_environment_variables_keep_strings_verbatim_and_drop_other_values():
    spec = parse_job(job(EnvironmentVariables={"HOME": "/var/root", "WHERE": "$HOME/x",
                                                "COUNT": 3, "ON": True, "LIST": ["a"]}), PATH)
    assert dict(spec.environment) == {"HOME": "/var/root", "WHERE": "$HOME/x"}


def test_environment_variables_that_are_not_a_dictionary_are_ignored_and_listed():
    spec = parse_job(job(EnvironmentVariables=["HOME=/var/root"]), PATH)
    assert spec.environment == ()
    assert "EnvironmentVariables" in spec.ignored_keys


def test_the_disabled_key_is_read_as_the_initial_default():
    assert parse_job(job(Disabled=True), PATH).disabled_in_plist is True


# The ownership and permission rule (§2.1)


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o444, 0o400])
def test_a_root_owned_plist_that_only_root_can_write_is_accepted(mode):
    check_ownership("root", stat.S_IFREG | mode)


def test_a_plist_owned_by_another_user_is_rejected_with_error_122():
    with pytest.raises(PlistRejected) as caught:
        check_ownership("cltbld", stat.S_IFREG | 0o644)
    assert caught.value.code == 122


@pytest.mark.parametrize("mode", [0o664, 0o666, 0o646, 0o620])
def test_a_group_or_world_writable_plist_is_rejected_with_error_122(mode):
    with pytest.raises(PlistRejected) as caught:
        check_ownership("root", stat.S_IFREG | mode)
    assert caught.value.code == 122
    assert f"{mode:04o}" in caught.value.reason


def test_the_group_of_a_plist_is_not_part_of_the_rule():
    # The rule is asked about the owner and the mode only, so a root:staff or root:admin plist
    # passes like root:wheel. test_launchd.py shows a root:staff plist loading at boot.
    check_ownership("root", stat.S_IFREG | 0o644)
