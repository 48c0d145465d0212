"""The Mac's processes are bounded in number and memory: a fork bomb or a runaway allocation ends
the run with its own verdict, and the host stays responsive."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import Limits, Machine, MachineConfig, Verdict
from harness.mac import bounds
from harness.mac.bounds import Bounds



def _cgroups_available() -> bool:
    groups = bounds.make_groups(f"{bounds.PREFIX}{os.getpid()}-probe")
    for group in {id(group): group for group in groups.values()}.values():
        group.remove()
    return set(groups) == {"pids", "memory"}


needs_cgroups = pytest.mark.skipif(
    not _cgroups_available(), reason="this host lets macsim make no pids and memory cgroup: rlimits stand in, "
                                     "and a run does not end with a verdict of its own (README: safety)")


def run_bounded(tmp_path: Path, script: str, **limits):
    machine = Machine(tmp_path / "mac", config=MachineConfig(disk_free_mb=64),
                      limits=Limits(real_s=60, **limits))
    machine.start_script(textwrap.dedent(script).lstrip().encode())
    started = time.monotonic()
    result = machine.run()
    return machine, result, time.monotonic() - started


def our_cgroups() -> list[Path]:
    own, found = bounds._own_cgroups(), []
    for point, kind, options in bounds._mounts():
        if kind == "cgroup" and ({"pids", "memory"} & options):
            controller = "pids" if "pids" in options else "memory"
            parent = Path(point + own.get(controller, "/"))
            found += list(parent.glob(f"{bounds.PREFIX}*"))
    return found


@needs_cgroups
def test_a_fork_bomb_ends_the_run_with_limit_processes_and_the_host_stays_responsive(tmp_path):
    before = our_cgroups()
    _, result, took_s = run_bounded(tmp_path, """
        python3 -c '
        import os
        while True:
            os.fork()
        '
    """, processes=32)
    assert result.verdict is Verdict.LIMIT_PROCESSES
    assert "limit of 32" in result.detail and "[limits] processes or --max-processes" in result.detail
    assert took_s < 20
    assert subprocess.run(["true"], timeout=5).returncode == 0  # the host still forks at once
    assert our_cgroups() == before  # the Mac's cgroups went with its run


@needs_cgroups
def test_a_shell_fork_bomb_ends_the_run_too(tmp_path):
    _, result, _ = run_bounded(tmp_path, "bomb() { bomb | bomb & }; bomb\n", processes=32)
    assert result.verdict is Verdict.LIMIT_PROCESSES


@needs_cgroups
def test_a_runaway_allocation_ends_the_run_with_limit_memory(tmp_path):
    _, result, took_s = run_bounded(tmp_path, """
        python3 -c '
        held = []
        while True:
            held.append(bytearray(8 << 20))
        '
    """, memory_mb=64)
    assert result.verdict is Verdict.LIMIT_MEMORY
    assert "64 MiB" in result.detail and "[limits] memory_mb or --max-memory-mb" in result.detail
    assert took_s < 20


@needs_cgroups
def test_a_script_within_its_bounds_runs_as_before(tmp_path):
    machine, result, _ = run_bounded(tmp_path, """
        for n in 1 2 3 4 5 6 7 8; do (echo "child $n") & done
        wait
        python3 -c 'print(len(bytearray(16 << 20)))'
    """, processes=32, memory_mb=64)
    assert result.verdict is Verdict.QUIET
    assert "16777216" in machine.output() and machine.output().count("child") == 8


def test_without_a_cgroup_rlimits_bound_each_process_of_the_mac(tmp_path):
    standing_in = Bounds(processes=40, memory_bytes=0, memory_mb=256)  # no groups: the fallback
    code = "import resource as r; print(r.getrlimit(r.RLIMIT_NPROC)[0], r.getrlimit(r.RLIMIT_AS)[0])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          preexec_fn=standing_in.preexec, timeout=10)
    assert done.stdout.split() == ["40", str(256 << 20)]
    assert standing_in.breach() is None  # nothing tells the controller: no verdict of its own
    assert resource.getrlimit(resource.RLIMIT_NPROC)[0] != 40  # the controller itself is not bound
