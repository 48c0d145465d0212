"""Where runs live, `macsim clean`, and a Ctrl-C that leaves nothing behind but the finished results."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.mac import bounds
from harness.tools import runs

ROOT = Path(__file__).resolve().parent.parent
QUICK = """
[scenario]
summary = "a script that says hello"

[host]
role = false
puppet_installed = false

[invariants]
off = { "converges" = "not a bootstrap", "never-stranded" = "not a bootstrap" }
"""
DEAD_PID = 4_000_000  # above pid_max: never a live process


def make_run(runs_dir: Path, stamp: str, pid: int) -> Path:
    run = runs_dir / f"{stamp}-run-{pid}"
    (run / "traces").mkdir(parents=True)
    return run


def test_a_new_run_keeps_the_newest_runs_and_never_one_whose_macsim_still_runs(tmp_path):
    old = [make_run(tmp_path, f"20250101-00000{n}", DEAD_PID) for n in range(5)]
    live = make_run(tmp_path, "20240101-000000", os.getpid())
    new = runs.new_run(tmp_path, "gate", keep=3)
    assert new.name.endswith(f"-gate-{os.getpid()}") and new.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, old[3].name, old[4].name, new.name])


def test_clean_removes_the_runs_and_what_killed_macsims_left_behind(tmp_path):
    for n in range(3):
        make_run(tmp_path / "runs", f"20250101-00000{n}", DEAD_PID)
    leftover = Path(f"/tmp/macsim-{DEAD_PID}-testleft")
    leftover.mkdir(exist_ok=True)
    cgroups = list(bounds.make_groups(f"{bounds.PREFIX}{DEAD_PID}-1").values())  # where this host allows
    done = macsim_command("clean", "--runs-dir", str(tmp_path / "runs"), "--keep", "1")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 1
    assert not leftover.exists() and f"removed {leftover}" in done.stdout
    assert not any(group.path.exists() for group in cgroups)


def macsim_command(*args: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}, **popen)


def leftovers_of(pid: int) -> list[str]:
    """What the macsim process `pid` could have left: runtime folders, crash-run copies, cgroups,
    and processes of its Macs."""
    found = [str(p) for place in (Path("/tmp"), Path("/dev/shm")) for p in place.glob(f"macsim-*{pid}-*")]
    own = bounds._own_cgroups()
    for point, kind, options in bounds._mounts():
        for controller in ("pids", "memory"):
            if kind == "cgroup" and controller in options:
                found += [str(p) for p in Path(point + own.get(controller, "/")).glob(f"macsim-{pid}-*")]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return found + [line for line in ps.splitlines() if f"macsim-{pid}-" in line]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_says_so_once_exits_as_a_shell_expects_and_leaves_only_the_finished_results(
        tmp_path, signum):
    (tmp_path / "a-quick.toml").write_text(QUICK)
    (tmp_path / "c-never-started.toml").write_text(QUICK)
    # The second scenario's script is busy (every command a step) until its step limit: long
    # enough to be interrupted in the middle.
    (tmp_path / "b-busy.toml").write_text(QUICK + '\n[start]\nenv = { BUSY = "1" }\n')
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/bash\nif [ -n \"${BUSY:-}\" ]; then while :; do n=$((n + 1)); done; fi\necho hello\n")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "harness", "run", "--script", str(script), "--json", str(report),
               "--runs-dir", str(tmp_path / "runs"), *(str(tmp_path / f) for f in
                                                       ("a-quick.toml", "b-busy.toml", "c-never-started.toml"))]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    first = ""
    while "[1/3]" not in first:
        first = process.stdout.readline()
        assert first or process.poll() is None, process.stderr.read()
    time.sleep(1.0)  # the busy one is under way
    process.send_signal(signum)
    rest, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert stderr.splitlines() == [stderr.splitlines()[0]] and stderr.startswith(
        f"macsim: interrupted by {signal.Signals(signum).name}: 1 of 3 scenario(s) had finished")
    assert "Traceback" not in rest + stderr
    written = json.loads(report.read_text())
    assert written["partial"] is True
    assert [(s["name"], s["verdict"]) for s in written["scenarios"]] == [("a-quick", "pass")]
    assert leftovers_of(process.pid) == []
    (run,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in run.iterdir()) == []  # no Mac's folder left (the traces are beside --json)


def pid_named_leftovers() -> set[str]:
    """Folders in /tmp and /dev/shm named for a macsim process that is gone."""
    found = set()
    for place in (Path("/tmp"), Path("/dev/shm")):
        for entry in place.glob("macsim-*"):
            match = runs._LEFTOVER.match(entry.name)
            if match and not Path(f"/proc/{match.group(1)}").exists():
                found.add(str(entry))
    return found


def test_an_interrupted_exploration_writes_the_crash_runs_that_had_finished_marked_partial(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(QUICK + "\n[limits]\nsteps = 40000\n")
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/bash\nfor f in a b c d; do echo $f > /var/tmp/$f; done\n"
                      "while :; do n=$((n + 1)); done\n")
    before = pid_named_leftovers()
    report = tmp_path / "explore.json"
    process = subprocess.Popen([sys.executable, "-m", "harness", "explore", "--script", str(script), "-j", "2",
                                "--json", str(report), str(scenario)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(3.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.count("macsim: interrupted by SIGINT: the exploration of s") == 1 and "Traceback" not in err
    written = json.loads(report.read_text())
    assert written["partial"] is True and written["crash_points"] >= 1
    assert "interrupted:" in out
    assert leftovers_of(process.pid) == [] and pid_named_leftovers() <= before
