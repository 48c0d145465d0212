"""launchd's system domain as daemons on the simulated Mac live it: real bash in the sandbox.

Facts: macos-behaviour.md §1 (boot), §5 (stopping a job), §6 (plist keys and job lifecycle),
§7 (labels).
"""
from __future__ import annotations

import pytest

from harness import Limits, Verdict

from conftest import plist_xml

DAEMONS = "/Library/LaunchDaemons"


def add_job(machine, label: str, body: str | None = None, *, arguments: list[str] | None = None,
            plist_name: str | None = None, **keys) -> None:
    """Puts a daemon on the disk: a bash script `/usr/local/bin/<label>.sh` holding `body`
    (unless `arguments` are given) and its root:wheel 0644 plist in /Library/LaunchDaemons."""
    if arguments is None:
        script = f"/usr/local/bin/{label}.sh"
        machine.disk.add_file(script, "#!/bin/bash\n" + body.strip() + "\n", mode=0o755)
        arguments = ["/bin/bash", script]
    machine.disk.add_file(f"{DAEMONS}/{plist_name or label}.plist", plist_xml(label, arguments, **keys))


def lines(mac, path: str) -> list[str]:
    return mac.read(path).splitlines()


def spacings(mac, path: str) -> list[int]:
    """The differences between successive `date +%s` lines of a file."""
    times = [int(line) for line in lines(mac, path)]
    return [b - a for a, b in zip(times, times[1:])]


def started(mac, label: str) -> list:
    return [e for e in mac.kinds("job-started") if e.job == label]


# Boot


def test_a_runatload_daemon_runs_once_at_boot(mac):
    result = mac.run(prepare=lambda m: add_job(
        m, "org.example.once", "echo ran >> /var/tmp/ran", RunAtLoad=True))
    assert result.verdict is Verdict.QUIET
    assert lines(mac, "/var/tmp/ran") == ["ran"]
    assert [e.data["why"] for e in started(mac, "org.example.once")] == ["boot"]


def test_a_daemon_without_runatload_is_loaded_but_never_started(mac):
    mac.run(prepare=lambda m: add_job(m, "org.example.idle", "echo ran >> /var/tmp/ran"))
    assert [e.job for e in mac.kinds("job-loaded")] == ["org.example.idle"]
    assert not mac.exists("/var/tmp/ran")


def test_a_root_owned_plist_in_group_staff_is_loaded_because_the_group_is_not_checked(mac):
    def prepare(machine):
        add_job(machine, "org.example.staff", "echo ran >> /var/tmp/ran", RunAtLoad=True)
        machine.disk.ownership.set_owner(f"{DAEMONS}/org.example.staff.plist", group="staff")
    mac.run(prepare=prepare)
    assert mac.machine.disk.ownership.owner(f"{DAEMONS}/org.example.staff.plist") == ("root", "staff")
    assert mac.kinds("job-skipped") == []
    assert lines(mac, "/var/tmp/ran") == ["ran"]


def test_a_label_disabled_with_launchctl_disable_does_not_start_at_the_next_boot(mac):
    def prepare(machine):
        add_job(machine, "org.example.off", "echo ran >> /var/tmp/ran", RunAtLoad=True)
    result = mac.run("""
        #!/bin/bash
        launchctl disable system/org.example.off
        sleep 1
        shutdown -r now
    """, prepare=prepare)
    assert result.boots == 2
    assert lines(mac, "/var/tmp/ran") == ["ran"]  # the first boot's run, before the disable
    loaded = [(e.boot, e.data["disabled"]) for e in mac.kinds("job-loaded")]
    assert loaded == [(1, False), (2, True)]
    assert [e.boot for e in started(mac, "org.example.off")] == [1]


# LaunchOnlyOnce, KeepAlive, StartInterval


def test_a_launchonlyonce_job_leaves_the_domain_after_its_run(mac):
    def prepare(machine):
        add_job(machine, "org.example.only", "sleep 10", RunAtLoad=True, LaunchOnlyOnce=True)
    mac.run("""
        #!/bin/bash
        sleep 1
        launchctl list org.example.only > /dev/null 2>&1; echo "$?" >> /var/tmp/status
        sleep 60
        launchctl list org.example.only 2> /var/tmp/err; echo "$?" >> /var/tmp/status
    """, prepare=prepare)
    assert lines(mac, "/var/tmp/status") == ["0", "113"]
    assert mac.read("/var/tmp/err") == 'Could not find service "org.example.only" in domain for port\n'
    assert len(started(mac, "org.example.only")) == 1


def test_keepalive_true_restarts_a_job_every_10_simulated_seconds_by_default(mac):
    def prepare(machine):
        add_job(machine, "org.example.again", "date +%s >> /var/tmp/runs", KeepAlive=True)
        machine.schedule(35, "halt")
    result = mac.run(prepare=prepare)
    assert result.verdict is Verdict.HALTED
    assert spacings(mac, "/var/tmp/runs") == [10, 10, 10]
    assert all(e.data["why"] == "exit" for e in started(mac, "org.example.again")[1:])


def test_keepalive_true_restarts_a_job_no_sooner_than_its_throttle_interval(mac):
    def prepare(machine):
        add_job(machine, "org.example.slow", "date +%s >> /var/tmp/runs", KeepAlive=True,
                ThrottleInterval=25)
        machine.schedule(60, "halt")
    mac.run(prepare=prepare)
    assert spacings(mac, "/var/tmp/runs") == [25, 25]


def test_a_job_that_ran_longer_than_its_throttle_interval_is_restarted_at_once(mac):
    def prepare(machine):
        add_job(machine, "org.example.long", "sleep 15; date +%s >> /var/tmp/runs", KeepAlive=True)
        machine.schedule(50, "halt")
    mac.run(prepare=prepare)
    assert spacings(mac, "/var/tmp/runs") == [15, 15]


def test_keepalive_successfulexit_false_restarts_only_after_a_non_zero_exit(mac):
    def prepare(machine):
        # Fails on its first two runs, succeeds on the third.
        add_job(machine, "org.example.retry", """
            n=$(( $(cat /var/tmp/count 2>/dev/null || echo 0) + 1 ))
            echo "$n" > /var/tmp/count
            date +%s >> /var/tmp/runs
            [ "$n" -ge 3 ]
        """, KeepAlive={"SuccessfulExit": False})
    result = mac.run(prepare=prepare, limits=Limits(simulated_s=3600, real_s=60))
    assert result.verdict is Verdict.QUIET
    assert mac.read("/var/tmp/count") == "3\n"
    assert spacings(mac, "/var/tmp/runs") == [10, 10]
    assert [e.data["status"] for e in mac.kinds("job-exited")] == [1, 1, 0]


def test_keepalive_pathstate_starts_a_job_when_its_file_appears(mac):
    def prepare(machine):
        add_job(machine, "org.example.waiter", "date +%s > /var/tmp/waiter-ran; rm -f /var/tmp/go",
                KeepAlive={"PathState": {"/var/tmp/go": True}})
        add_job(machine, "org.example.maker", "sleep 30; touch /var/tmp/go", RunAtLoad=True)
    result = mac.run(prepare=prepare)
    assert result.verdict is Verdict.QUIET
    epoch = int(mac.machine.clock.epoch_s)
    assert int(mac.read("/var/tmp/waiter-ran")) == epoch + 30
    assert len(started(mac, "org.example.waiter")) == 1


def test_startinterval_runs_a_job_periodically_and_not_at_load(mac):
    def prepare(machine):
        add_job(machine, "org.example.tick", "date +%s >> /var/tmp/runs", StartInterval=60)
        machine.schedule(200, "halt")
    mac.run(prepare=prepare)
    epoch = int(mac.machine.clock.epoch_s)
    assert [int(t) - epoch for t in lines(mac, "/var/tmp/runs")] == [60, 120, 180]


# Spawn failures and output files


def test_a_missing_program_fails_each_spawn_with_exit_78_shown_by_launchctl_list(mac):
    def prepare(machine):
        add_job(machine, "org.example.ghost", arguments=["/usr/local/bin/missing"], RunAtLoad=True,
                StandardOutPath="/var/log/ghost.log")
    mac.run("""
        #!/bin/bash
        sleep 1
        launchctl list | grep org.example.ghost > /var/tmp/row
    """, prepare=prepare)
    failed = [e for e in mac.kinds("job-spawn-failed") if e.job == "org.example.ghost"]
    assert [e.data["last_exit"] for e in failed] == [78]
    assert "No such file or directory" in failed[0].data["reason"]
    assert mac.read("/var/tmp/row") == "-\t78\torg.example.ghost\n"
    assert not mac.exists("/var/log/ghost.log")  # never opened: the job never ran


def test_standardoutpath_is_created_with_its_parent_and_appended_to_across_boots(mac):
    def prepare(machine):
        add_job(machine, "org.example.logger", "echo hello; echo oops >&2", RunAtLoad=True,
                StandardOutPath="/var/log/example/out.log", StandardErrorPath="/var/log/example/out.log")
    result = mac.run("""
        #!/bin/bash
        sleep 1
        shutdown -r now
    """, prepare=prepare)
    assert result.boots == 2
    assert sorted(lines(mac, "/var/log/example/out.log")) == ["hello", "hello", "oops", "oops"]


ENV_REPORT = """
    {
        echo "PATH=$PATH"
        echo "XPC_SERVICE_NAME=${XPC_SERVICE_NAME-<unset>}"
        echo "HOME=${HOME-<unset>}"
        echo "USER=${USER-<unset>}"
        echo "LOGNAME=${LOGNAME-<unset>}"
        echo "cwd=$(pwd)"
        echo "id=$(id -un)"
    } > /var/tmp/env
"""


def test_a_root_daemon_gets_launchds_minimal_environment_and_no_home(mac):
    mac.run(prepare=lambda m: add_job(m, "org.example.env", ENV_REPORT, RunAtLoad=True))
    assert lines(mac, "/var/tmp/env") == [
        "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XPC_SERVICE_NAME=org.example.env", "HOME=<unset>",
        "USER=<unset>", "LOGNAME=<unset>", "cwd=/", "id=root"]


def test_a_daemon_with_username_runs_as_that_user_with_its_home(mac):
    mac.run(prepare=lambda m: add_job(m, "org.example.user", ENV_REPORT, RunAtLoad=True,
                                      UserName="cltbld"))
    assert lines(mac, "/var/tmp/env") == [
        "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XPC_SERVICE_NAME=org.example.user",
        "HOME=/Users/cltbld", "USER=cltbld", "LOGNAME=cltbld", "cwd=/", "id=cltbld"]


def test_environmentvariables_override_the_defaults_and_are_set_verbatim(mac):
    mac.run(prepare=lambda m: add_job(
        m, "org.example.envvars", 'printf "%s\\n" "$PATH" "$HOME" "$WHERE" > /var/tmp/env',
        RunAtLoad=True,
        EnvironmentVariables={"PATH": "/opt/x/bin:/usr/bin:/bin", "HOME": "/var/root",
                              "WHERE": "$HOME/x"}))
    assert lines(mac, "/var/tmp/env") == ["/opt/x/bin:/usr/bin:/bin", "/var/root", "$HOME/x"]


def test_workingdirectory_is_where_the_job_starts(mac):
    mac.run(prepare=lambda m: add_job(m, "org.example.cwd", "pwd > /var/tmp/cwd; echo x > here",
                                      RunAtLoad=True, WorkingDirectory="/var/tmp"))
    assert mac.read("/var/tmp/cwd") == "/private/var/tmp\n"  # getcwd() sees through the /var link
    assert mac.read("/var/tmp/here") == "x\n"


# Labels


@pytest.mark.parametrize("seed", [0, 1])  # launchd's seeded read order: either plist may win
def test_of_two_plists_with_the_same_label_only_one_is_loaded_and_the_other_skipped(mac, seed):
    def prepare(machine):
        add_job(machine, "org.example.twin", arguments=["/usr/bin/touch", "/var/tmp/first"],
                plist_name="a-first", RunAtLoad=True)
        add_job(machine, "org.example.twin", arguments=["/usr/bin/touch", "/var/tmp/second"],
                plist_name="b-second", RunAtLoad=True)
    mac.run(prepare=prepare, seed=seed)
    assert mac.exists("/var/tmp/first") != mac.exists("/var/tmp/second")
    skipped = mac.kinds("job-skipped")
    assert [(e.data["label"], e.data["reason"]) for e in skipped] == [
        ("org.example.twin", "org.example.twin: Already loaded")]
    assert len(started(mac, "org.example.twin")) == 1


# Stopping a job (§5)


@pytest.mark.parametrize("plist_keys, timeout_s", [({"ExitTimeOut": 30}, 30), ({}, 5)],
                         ids=["after its ExitTimeOut", "after the default 5 s"])
def test_a_job_that_traps_term_and_keeps_running_is_killed(mac, plist_keys, timeout_s):
    def prepare(machine):
        add_job(machine, "org.example.stubborn", """
            trap 'echo "got TERM" >> /var/tmp/log' TERM
            while true; do sleep 1; done
        """, RunAtLoad=True, **plist_keys)
    mac.run("""
        #!/bin/bash
        sleep 5
        launchctl bootout system/org.example.stubborn
    """, prepare=prepare)
    assert lines(mac, "/var/tmp/log") == ["got TERM"]
    stopping = [e for e in mac.kinds("job-stopping") if e.job == "org.example.stubborn"]
    exited = [e for e in mac.kinds("job-exited") if e.job == "org.example.stubborn"]
    assert [e.data["signal"] for e in exited] == ["SIGKILL"]
    assert exited[0].t_s - stopping[0].t_s == timeout_s
    assert [e.job for e in mac.kinds("job-removed")] == ["org.example.stubborn"]


SHUTDOWN_IN_A_CHILD = """
    [ -f /var/tmp/started ] && exit 0
    bash /usr/local/bin/child.sh
"""
CHILD_WITH_A_TRAP = """#!/bin/bash
on_exit() {
    holder=$(cat /var/tmp/lock/pid)
    rm -rf /var/tmp/lock
    echo "released $holder" > /var/tmp/trap-ran
}
trap on_exit EXIT
mkdir /var/tmp/lock && echo $$ > /var/tmp/lock/pid && touch /var/tmp/started
shutdown -r now
sleep 60
"""


def test_at_a_shutdown_a_job_childs_exit_trap_runs_to_its_end_every_time(mac):
    # Every process gets one SIGTERM at a shutdown (§8.3); the job's main process dying of it
    # must not send its process group a second one, which would cut the child's trap short
    # wherever real timing had got it to (bash dies at once on a second SIGTERM).
    traces = []
    for _ in range(4):
        mac.run(prepare=lambda m: (
            add_job(m, "org.example.parent", SHUTDOWN_IN_A_CHILD, RunAtLoad=True),
            m.disk.add_file("/usr/local/bin/child.sh", CHILD_WITH_A_TRAP, mode=0o755)))
        assert mac.read("/var/tmp/trap-ran").startswith("released ")
        assert not mac.exists("/var/tmp/lock")
        traces.append([(e.kind, e.job, e.data) for e in mac.result.trace.events])
    assert all(trace == traces[0] for trace in traces)


BACKGROUND_CHILD = """
    ( sleep 20; echo "child lived" > /var/tmp/child ) &
    echo "parent done" > /var/tmp/parent
"""


def test_a_background_child_dies_with_its_job_by_default(mac):
    result = mac.run(prepare=lambda m: add_job(m, "org.example.pg", BACKGROUND_CHILD, RunAtLoad=True))
    assert result.verdict is Verdict.QUIET
    assert mac.read("/var/tmp/parent") == "parent done\n"
    assert not mac.exists("/var/tmp/child")


def test_a_background_child_outlives_its_job_with_abandonprocessgroup(mac):
    mac.run(prepare=lambda m: add_job(m, "org.example.pg", BACKGROUND_CHILD, RunAtLoad=True,
                                      AbandonProcessGroup=True))
    assert mac.read("/var/tmp/parent") == "parent done\n"
    assert mac.read("/var/tmp/child") == "child lived\n"
