"""The simulated Mac end to end: real bash in the real sandbox, boots, reboots, power loss, time."""
from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

from harness import Limits, Verdict

from conftest import plist_xml

SELF_LOADING = """
    #!/bin/bash
    set -e
    if [ -n "${XPC_SERVICE_NAME:-}" ]; then
        echo "copy started by launchd" >> /var/tmp/runs
        exit 0
    fi
    echo "first copy" >> /var/tmp/runs
    cat > /Library/LaunchDaemons/org.example.selfload.plist <<'EOF'
    PLIST
    EOF
    mkdir -p /usr/local/sbin
    cp "$0" /usr/local/sbin/selfload.sh
    launchctl load -w /Library/LaunchDaemons/org.example.selfload.plist
    sleep 5
    echo "first copy still running" >> /var/tmp/runs
"""


def test_a_script_that_loads_its_own_runatload_daemon_sees_a_second_copy_start_while_it_runs(mac):
    plist = plist_xml("org.example.selfload", ["/bin/bash", "/usr/local/sbin/selfload.sh"], RunAtLoad=True)
    mac.run(textwrap.dedent(SELF_LOADING).replace("PLIST", plist))
    assert mac.read("/var/tmp/runs").splitlines() == [
        "first copy", "copy started by launchd", "first copy still running"]
    started = [e for e in mac.kinds("job-started") if e.job == "org.example.selfload"]
    assert len(started) == 1


def test_a_job_that_boots_itself_out_runs_nothing_after_that_line(mac):
    def prepare(machine):
        machine.disk.add_file("/usr/local/bin/job.sh", """#!/bin/bash
echo before >> /var/tmp/log
launchctl bootout system/org.example.self
echo after >> /var/tmp/log
""", mode=0o755)
        machine.disk.add_file("/Library/LaunchDaemons/org.example.self.plist",
                              plist_xml("org.example.self", ["/bin/bash", "/usr/local/bin/job.sh"], RunAtLoad=True))
    result = mac.run(prepare=prepare)
    assert result.verdict is Verdict.QUIET
    assert mac.read("/var/tmp/log") == "before\n"
    exits = [e.data for e in mac.kinds("job-exited")]
    assert exits == [{"signal": "SIGTERM"}]


def test_a_plist_with_mode_0666_is_skipped_at_boot_with_the_reason(mac):
    def prepare(machine):
        machine.disk.add_file("/Library/LaunchDaemons/org.example.loose.plist",
                              plist_xml("org.example.loose", ["/usr/bin/touch", "/var/tmp/ran"], RunAtLoad=True),
                              mode=0o666)
    mac.run(prepare=prepare)
    skipped = mac.kinds("job-skipped")
    assert [e.data["code"] for e in skipped] == [122]
    assert "group- or world-writable" in skipped[0].data["reason"]
    assert not mac.exists("/var/tmp/ran")


def test_commands_after_shutdown_r_now_never_complete(mac):
    result = mac.run("""
        #!/bin/bash
        echo one >> /var/tmp/log
        shutdown -r now
        echo two >> /var/tmp/log
        touch /var/tmp/after-shutdown
    """)
    assert mac.read("/var/tmp/log") == "one\n"
    assert not mac.exists("/var/tmp/after-shutdown")
    assert result.boots == 2
    assert [e.data["how"] for e in mac.kinds("shutdown")] == ["reboot"]


def test_a_thousand_sleep_60_take_sixty_thousand_simulated_seconds_and_no_real_minutes(mac):
    result = mac.run("""
        #!/bin/bash
        for i in $(seq 1000); do sleep 60; done
        date +%s > /var/tmp/end
    """, limits=Limits(real_s=30))
    assert result.verdict is Verdict.QUIET  # a real-time limit would say LIMIT_REAL
    assert result.simulated_s == 60_000
    start = int(mac.machine.clock.epoch_s)
    assert int(mac.read("/var/tmp/end")) == start + 60_000


def _effects_script() -> str:
    return """
        #!/bin/bash
        echo 1 > /var/tmp/a
        echo 2 > /var/tmp/b
        echo 3 > /var/tmp/c
        echo 4 > /var/tmp/d
    """


def test_power_loss_at_step_n_leaves_exactly_the_effects_of_the_steps_before_n(mac):
    full = mac.run(_effects_script())
    steps = {int(e.data["line"]): e.data["step"] for e in mac.kinds("step")}
    cut_before = steps[4]  # the step that writes /var/tmp/c
    mac.run(_effects_script(), prepare=lambda m: m.power_loss_at_step(cut_before))
    assert full.verdict is Verdict.QUIET
    assert mac.read("/var/tmp/a") == "1\n" and mac.read("/var/tmp/b") == "2\n"
    assert not mac.exists("/var/tmp/c") and not mac.exists("/var/tmp/d")
    assert [e.data["cause"] for e in mac.kinds("power-loss")] == [f"injected before step {cut_before}"]
    assert mac.result.boots == 2


def test_tmp_is_emptied_by_a_reboot_and_var_tmp_is_not(mac):
    mac.run("""
        #!/bin/bash
        if [ -f /var/tmp/rebooted ]; then exit 0; fi
        echo keep > /var/tmp/kept
        echo lose > /tmp/lost
        touch /var/tmp/rebooted
        shutdown -r now
    """)
    assert mac.result.boots == 2
    assert mac.read("/var/tmp/kept") == "keep\n"
    assert not mac.exists("/tmp/lost")
    assert os.listdir(mac.machine.disk.host_path("/private/tmp")) == []


def _host_fingerprint() -> dict[str, str]:
    paths = ["/etc/passwd", "/usr/local/bin/x", "/root/x", "/Library/x"]
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).exists() else "absent"
            for p in paths}


def test_a_script_that_writes_system_paths_changes_only_the_macs_disk(mac):
    before = _host_fingerprint()
    mac.run("""
        #!/bin/bash
        echo "intruder:*:666:666::/var/empty:/bin/sh" >> /etc/passwd
        mkdir -p /usr/local/bin && echo x > /usr/local/bin/x
        mkdir -p /root && echo x > /root/x
        echo x > /Library/x
        touch /usr/bin/x 2>/dev/null || echo "read-only" > /var/tmp/usr-bin
    """)
    assert _host_fingerprint() == before
    assert "intruder" in mac.read("/etc/passwd")
    assert mac.read("/usr/local/bin/x") == "x\n"
    assert mac.read("/Library/x") == "x\n"
    assert mac.read("/var/tmp/usr-bin") == "read-only\n"


def test_the_same_seed_gives_the_same_trace(mac):
    script = textwrap.dedent(SELF_LOADING).replace("PLIST", plist_xml(
        "org.example.selfload", ["/bin/bash", "/usr/local/sbin/selfload.sh"], RunAtLoad=True))

    def shape(result):
        return [(e.boot, e.t_s, e.pid, e.job, e.kind, e.data) for e in result.trace.events]
    first = shape(mac.run(script, seed=3))
    second = shape(mac.run(script, seed=3))
    assert first == second


def test_a_macos_command_that_is_not_simulated_fails_loudly(mac):
    mac.run("""
        #!/bin/bash
        pmset -g 2> /var/tmp/err
        echo "status $?" > /var/tmp/status
    """)
    assert mac.read("/var/tmp/err") == "not simulated: pmset\n"
    assert mac.read("/var/tmp/status") == "status 127\n"
    assert [e.data["name"] for e in mac.kinds("not-simulated")] == ["pmset"]


def test_a_linux_only_tool_is_absent_as_on_a_mac(mac):
    mac.run("""
        #!/bin/bash
        flock /tmp/x true 2> /var/tmp/err; echo "$?" > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "127\n"
    assert "flock: command not found" in mac.read("/var/tmp/err")


def test_a_process_that_never_sleeps_is_ended_by_the_step_limit(mac):
    result = mac.run("""
        #!/bin/bash
        while true; do :; done
    """, limits=Limits(steps=500, real_s=60))
    assert result.verdict is Verdict.LIMIT_STEPS


def test_a_process_whose_threads_work_while_its_main_thread_waits_keeps_the_clock_still(mac):
    # The main thread sleeps in join(); a worker thread computes, then writes. The clock moves
    # only once every thread of every process is blocked, so the write comes at 0 s, not at 5.
    mac.run("""
        #!/bin/bash
        python3 -c '
import threading
def work():
    n = 0
    for i in range(3000000):
        n += i
    open("/var/tmp/worked", "w").write(str(n))
worker = threading.Thread(target=work)
worker.start()
worker.join()' &
        sleep 5
        wait
    """)
    written = [e for e in mac.kinds("file") if e.data["path"] == "/private/var/tmp/worked"]
    assert [e.t_s for e in written] == [0.0]


def test_shells_starting_at_once_are_recorded_in_the_order_of_their_pids(mac):
    def prepare(machine):
        for name in ("a", "b", "c"):
            machine.disk.add_file(f"/Library/LaunchDaemons/org.example.{name}.plist",
                                  plist_xml(f"org.example.{name}", ["/bin/bash", "-c", "echo started"], RunAtLoad=True))
    mac.run(prepare=prepare)
    hellos = [e.pid for e in mac.kinds("process-start") if "cwd" in e.data]
    assert len(hellos) == 3 and hellos == sorted(hellos)
