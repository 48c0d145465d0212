"""launchctl as a script on the simulated Mac sees it: the exact messages and exit codes.

Each test captures launchctl's stderr (or stdout) and `$?` into files under /var/tmp and
compares them with what macOS 15 prints (macos-behaviour.md §2.3, §3).
"""
from __future__ import annotations

import re

import pytest

from harness.mac.overrides import OVERRIDES_PATH

from conftest import plist_xml

LABEL = "org.example.job"
PLIST = f"/Library/LaunchDaemons/{LABEL}.plist"


def add_job(machine, body: str = "echo ran >> /var/tmp/ran", *, path: str = PLIST, owner: str = "root",
            mode: int = 0o644, **keys) -> None:
    """A daemon `LABEL` whose bash script holds `body`, with its plist at `path`."""
    machine.disk.add_file("/usr/local/bin/job.sh", "#!/bin/bash\n" + body + "\n", mode=0o755)
    machine.disk.add_file(path, plist_xml(LABEL, ["/bin/bash", "/usr/local/bin/job.sh"], **keys),
                          owner=owner, mode=mode)


def disabled_in_override_database(machine) -> None:
    """As a previous `launchctl unload -w` or `disable` would have left it."""
    machine.launchd.overrides.set_disabled(LABEL, True)


def runs(mac) -> int:
    return len(mac.read("/var/tmp/ran").splitlines()) if mac.exists("/var/tmp/ran") else 0


CAPTURE = """
    #!/bin/bash
    {command} 2> /var/tmp/err; echo "$?" > /var/tmp/status
"""


def run_capturing(mac, command: str, prepare=None, **options):
    """Runs `command` as root in a script; its stderr and status land in /var/tmp."""
    return mac.run(CAPTURE.format(command=command), prepare=prepare, **options)


def err(mac) -> str:
    return mac.read("/var/tmp/err")


def status(mac) -> int:
    return int(mac.read("/var/tmp/status"))


# load and unload


@pytest.mark.parametrize("owner, mode", [("root", 0o664), ("root", 0o666), ("cltbld", 0o644)],
                         ids=["group-writable", "world-writable", "owned-by-cltbld"])
def test_load_of_a_plist_with_bad_ownership_or_permissions_prints_error_122_and_exits_0(mac, owner, mode):
    path = "/private/var/tmp/org.example.job.plist"
    run_capturing(mac, f"launchctl load {path}",
                  prepare=lambda m: add_job(m, path=path, owner=owner, mode=mode, RunAtLoad=True))
    assert err(mac) == (f"{path}: Path had bad ownership/permissions\n"
                        "Load failed: 122: Path had bad ownership/permissions\n")
    assert status(mac) == 0
    assert runs(mac) == 0


def test_load_of_an_already_loaded_job_prints_io_error_and_the_bootstrap_hint_and_exits_0(mac):
    run_capturing(mac, f"launchctl load {PLIST}", prepare=lambda m: add_job(m))
    assert err(mac) == ("Load failed: 5: Input/output error\n"
                        "Try running `launchctl bootstrap` as root for richer errors.\n")
    assert status(mac) == 0


def test_load_of_a_new_runatload_plist_starts_it_at_once(mac):
    mac.run(f"""
        #!/bin/bash
        cp /var/tmp/staged.plist {PLIST}
        launchctl load {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        sleep 1
    """, prepare=lambda m: add_job(m, path="/private/var/tmp/staged.plist", RunAtLoad=True))
    assert err(mac) == ""
    assert status(mac) == 0
    assert runs(mac) == 1


def test_load_w_of_a_job_disabled_with_launchctl_disable_enables_and_starts_it(mac):
    mac.run(f"""
        #!/bin/bash
        launchctl disable system/{LABEL}
        cp /var/tmp/staged.plist {PLIST}
        launchctl load -w {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        launchctl print-disabled system > /var/tmp/overrides
        sleep 1
    """, prepare=lambda m: add_job(m, path="/private/var/tmp/staged.plist", RunAtLoad=True))
    assert err(mac) == ""
    assert status(mac) == 0
    assert runs(mac) == 1
    assert f'"{LABEL}" => enabled' in mac.read("/var/tmp/overrides")


def test_load_w_of_a_disabled_daemon_present_since_boot_enables_and_starts_it(mac):
    # The classic `launchctl load -w /System/Library/LaunchDaemons/ssh.plist`: the plist was
    # there at boot but its label disabled (e.g. by an earlier `unload -w`).
    def prepare(machine):
        add_job(machine, RunAtLoad=True)
        disabled_in_override_database(machine)
    mac.run(f"""
        #!/bin/bash
        launchctl load -w {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        sleep 1
    """, prepare=prepare)
    assert err(mac) == ""
    assert status(mac) == 0
    assert runs(mac) == 1


def test_load_without_w_of_a_job_disabled_with_launchctl_disable_says_service_is_disabled(mac):
    mac.run(f"""
        #!/bin/bash
        launchctl disable system/{LABEL}
        cp /var/tmp/staged.plist {PLIST}
        launchctl load {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        sleep 1
    """, prepare=lambda m: add_job(m, path="/private/var/tmp/staged.plist", RunAtLoad=True))
    assert err(mac) == f"{PLIST}: Service is disabled\nLoad failed: 119: Service is disabled\n"
    assert status(mac) == 0
    assert runs(mac) == 0


def test_load_without_w_of_a_disabled_daemon_present_since_boot_says_service_is_disabled(mac):
    # §3.2: after `unload -w` and a reboot "a later plain `load` will report 'Service is disabled'".
    def prepare(machine):
        add_job(machine, RunAtLoad=True)
        disabled_in_override_database(machine)
    run_capturing(mac, f"launchctl load {PLIST}", prepare=prepare)
    assert err(mac) == f"{PLIST}: Service is disabled\nLoad failed: 119: Service is disabled\n"
    assert status(mac) == 0
    assert runs(mac) == 0


def test_unload_w_keeps_the_job_from_starting_at_the_next_boot(mac):
    result = mac.run(f"""
        #!/bin/bash
        sleep 1
        launchctl unload -w {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        shutdown -r now
    """, prepare=lambda m: add_job(m, RunAtLoad=True))
    assert result.boots == 2
    assert err(mac) == ""
    assert status(mac) == 0
    assert runs(mac) == 1  # the first boot only
    assert mac.exists(PLIST)
    assert mac.exists(OVERRIDES_PATH)
    assert [e.data["disabled"] for e in mac.kinds("job-loaded") if e.boot == 2] == [True]


def test_unload_without_w_lets_the_job_start_again_at_the_next_boot(mac):
    result = mac.run(f"""
        #!/bin/bash
        sleep 1
        launchctl unload {PLIST}
        shutdown -r now
    """, prepare=lambda m: add_job(m, RunAtLoad=True))
    assert result.boots == 2
    assert runs(mac) == 2


# bootstrap and bootout


def test_bootstrap_of_a_loaded_job_fails_with_5_and_exits_5(mac):
    run_capturing(mac, f"launchctl bootstrap system {PLIST}", prepare=lambda m: add_job(m))
    assert err(mac) == "Bootstrap failed: 5: Input/output error\n"
    assert status(mac) == 5


def test_bootstrap_as_a_non_root_user_is_not_permitted(mac):
    mac.run(f"""
        #!/bin/bash
        cp /var/tmp/staged.plist {PLIST}
        sudo -u cltbld launchctl bootstrap system {PLIST} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        sleep 1
    """, prepare=lambda m: add_job(m, path="/private/var/tmp/staged.plist", RunAtLoad=True))
    assert err(mac) == "Bootstrap failed: 1: Operation not permitted\n"
    assert status(mac) == 1
    assert runs(mac) == 0


def test_bootout_of_a_label_that_is_not_loaded_fails_with_3_and_exits_3(mac):
    run_capturing(mac, f"launchctl bootout system/{LABEL}")
    assert err(mac) == "Boot-out failed: 3: No such process\n"
    assert status(mac) == 3


def test_bootout_of_an_idle_loaded_job_is_silent_and_removes_it(mac):
    mac.run(f"""
        #!/bin/bash
        launchctl bootout system/{LABEL} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        launchctl print system/{LABEL} > /dev/null 2>&1; echo "$?" >> /var/tmp/status
    """, prepare=lambda m: add_job(m))
    assert err(mac) == ""
    assert mac.read("/var/tmp/status").split() == ["0", "113"]


def test_an_empty_label_from_an_unset_variable_fails_loudly_as_not_simulated(mac):
    run_capturing(mac, 'launchctl bootout "system/$UNSET_LABEL"')
    assert err(mac).startswith("not simulated: launchctl bootout 'system/'")
    assert status(mac) == 127
    events = mac.kinds("not-simulated")
    assert [(e.data["name"], e.data["argv"]) for e in events] == [
        ("launchctl", ["launchctl", "bootout", "system/"])]


def test_launchctl_blame_is_not_simulated(mac):
    run_capturing(mac, f"launchctl blame system/{LABEL}", prepare=lambda m: add_job(m))
    assert err(mac) == "not simulated: launchctl blame\n"
    assert status(mac) == 127
    assert [e.data["detail"] for e in mac.kinds("not-simulated")] == ["blame"]


# print and list


def test_print_of_a_label_that_is_not_loaded_cannot_find_the_service_and_exits_113(mac):
    run_capturing(mac, f"launchctl print system/{LABEL}")
    assert err(mac) == f'Could not find service "{LABEL}" in domain for system\n'
    assert status(mac) == 113


def test_print_of_a_running_job_shows_its_state_exit_timeout_and_last_exit_code(mac):
    mac.run(f"""
        #!/bin/bash
        sleep 1
        launchctl print system/{LABEL} > /var/tmp/out; echo "$?" > /var/tmp/status
        launchctl bootout system/{LABEL}
    """, prepare=lambda m: add_job(m, "sleep 100", RunAtLoad=True))
    out = mac.read("/var/tmp/out").splitlines()
    assert out[0] == f"system/{LABEL} = {{"
    for line in ("\tstate = running", f"\tpath = {PLIST}", "\texit timeout = 5",
                 "\tlast exit code = (never exited)", "\truns = 1"):
        assert line in out
    assert status(mac) == 0


def test_print_of_a_job_that_exited_shows_not_running_and_its_exit_code(mac):
    mac.run(f"""
        #!/bin/bash
        sleep 1
        launchctl print system/{LABEL} > /var/tmp/out
    """, prepare=lambda m: add_job(m, "exit 3", RunAtLoad=True, ExitTimeOut=12))
    out = mac.read("/var/tmp/out").splitlines()
    for line in ("\tstate = not running", "\texit timeout = 12", "\tlast exit code = 3"):
        assert line in out


def test_list_shows_a_dash_for_a_job_not_running_and_the_pid_of_a_running_one(mac):
    def prepare(machine):
        add_job(machine, "sleep 100", RunAtLoad=True)
        machine.disk.add_file("/Library/LaunchDaemons/org.example.failed.plist",
                              plist_xml("org.example.failed", ["/bin/bash", "-c", "exit 2"], RunAtLoad=True))
    mac.run(f"""
        #!/bin/bash
        sleep 1
        launchctl list > /var/tmp/out
        launchctl bootout system/{LABEL}
    """, prepare=prepare)
    out = mac.read("/var/tmp/out").splitlines()
    assert out[0] == "PID\tStatus\tLabel"
    assert "-\t2\torg.example.failed" in out
    assert any(re.fullmatch(rf"[0-9]+\t0\t{re.escape(LABEL)}", row) for row in out)


# kickstart


def test_kickstart_k_kills_a_running_job_and_starts_it_again(mac):
    mac.run(f"""
        #!/bin/bash
        sleep 30
        launchctl kickstart -k system/{LABEL} 2> /var/tmp/err; echo "$?" > /var/tmp/status
        sleep 5
        launchctl bootout system/{LABEL}
    """, prepare=lambda m: add_job(m, "date +%s >> /var/tmp/starts; sleep 1000", RunAtLoad=True))
    assert err(mac) == ""
    assert status(mac) == 0
    starts = [int(t) for t in mac.read("/var/tmp/starts").split()]
    assert [t - starts[0] for t in starts] == [0, 30]
    assert [e.data["signal"] for e in mac.kinds("job-exited")] == ["SIGTERM", "SIGTERM"]


def test_kickstart_of_a_label_that_is_not_loaded_cannot_find_the_service(mac):
    run_capturing(mac, f"launchctl kickstart -k system/{LABEL}")
    assert err(mac) == f'Could not find service "{LABEL}" in domain for system\n'
    assert status(mac) == 113


def test_an_override_database_launchd_cannot_read_counts_as_empty_and_the_trace_says_so_once(mac):
    def prepare(machine):
        add_job(machine, RunAtLoad=True)
        machine.disk.add_file(OVERRIDES_PATH, "not a property list\n")
    mac.run("""
        #!/bin/bash
        launchctl print-disabled system > /var/tmp/out; echo "$?" > /var/tmp/status
        launchctl print-disabled system > /dev/null
    """, prepare=prepare)
    assert mac.read("/var/tmp/status") == "0\n"
    assert runs(mac) == 1  # nothing is disabled
    (unreadable,) = mac.kinds("override-unreadable")
    assert unreadable.data["path"] == OVERRIDES_PATH and "not a property list" in unreadable.data["reason"]
