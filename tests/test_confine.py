"""A Mac's disk has a size: a write past it fails inside the Mac, and the host never holds more."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import Limits, Machine, MachineConfig
from harness.mac import confine
from harness.mac.confine import Volume, mounts_under, remove_tree, usage
from harness.mac.snapshot import copy_tree, keep_on_host

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20

needs_namespace = pytest.mark.skipif(not confine.enter(), reason="this host refuses macsim a mount namespace: "
                                                                   "disks are unbounded folders (README: safety)")


def run_on_a_small_disk(tmp_path: Path, script: str, free_mb: int = 8):
    machine = Machine(tmp_path / "mac", config=MachineConfig(disk_free_mb=free_mb), limits=Limits(real_s=60))
    machine.start_script(textwrap.dedent(script).lstrip().encode())
    return machine, machine.run()


@needs_namespace
def test_dd_past_the_capacity_fails_inside_the_mac_with_no_space_left_on_device(tmp_path):
    machine, result = run_on_a_small_disk(tmp_path, """
        dd if=/dev/zero of=/var/tmp/big bs=1M count=40
        echo "dd exited $?"
    """)
    output = machine.output()
    assert "dd: error writing '/var/tmp/big': No space left on device" in output
    assert "dd exited 1" in output
    found = usage(machine.disk.root)
    # The host holds the capacity at most: what the host's files took, plus the 8 MiB free.
    assert found.used_bytes <= found.capacity_bytes <= found.used_bytes + confine.PAGE
    assert machine.disk.host_path("/var/tmp/big").stat().st_size < 9 * MIB
    full = [event for event in result.trace.events if event.kind == "disk-full"]
    assert len(full) == 1 and "No space left on device" in full[0].data["detail"]


@needs_namespace
def test_the_disk_full_event_comes_again_only_after_room_came_back(tmp_path):
    _, result = run_on_a_small_disk(tmp_path, """
        dd if=/dev/zero of=/var/tmp/big bs=1M count=40 2>/dev/null
        dd if=/dev/zero of=/var/tmp/more bs=1M count=1 2>/dev/null
        rm /var/tmp/big /var/tmp/more
        echo room again > /var/tmp/note
        dd if=/dev/zero of=/var/tmp/big bs=1M count=40 2>/dev/null
        true
    """)
    assert [event.kind for event in result.trace.events].count("disk-full") == 2


@needs_namespace
def test_a_command_the_controller_answers_fails_as_on_a_mac_when_the_disk_is_full(tmp_path):
    machine, _ = run_on_a_small_disk(tmp_path, """
        dd if=/dev/zero of=/var/tmp/big bs=1M count=40 2>/dev/null
        install -m 644 /etc/hosts /usr/local/hosts
        echo "install exited $?"
    """)
    # BSD install: err(EX_OSERR, "%s", to_name); what it could not finish is not left behind.
    assert "install: /usr/local/hosts: No space left on device\ninstall exited 71\n" in machine.output()
    assert not machine.disk.host_path("/usr/local/hosts").exists()


@needs_namespace
def test_the_capacity_counts_what_the_host_had_on_its_disk_before_the_first_boot(tmp_path):
    machine = Machine(tmp_path / "mac", config=MachineConfig(disk_free_mb=4), limits=Limits(real_s=60))
    machine.disk.add_file("/Users/Shared/blob", bytes(6 * MIB))
    machine.start_script(b"dd if=/dev/zero of=/var/tmp/big bs=1M count=5 2>&1; true\n")
    machine.run()
    assert "No space left on device" in machine.output()
    assert machine.disk.host_path("/Users/Shared/blob").stat().st_size == 6 * MIB


@needs_namespace
def test_remove_tree_unmounts_and_removes_a_folder_holding_a_disk(tmp_path):
    Volume.mount(tmp_path / "work" / "mac" / "disk", MIB)
    (tmp_path / "work" / "mac" / "disk" / "file").write_text("x")
    assert mounts_under(tmp_path / "work") == [str(tmp_path / "work" / "mac" / "disk")]
    remove_tree(tmp_path / "work")
    assert not (tmp_path / "work").exists() and mounts_under(tmp_path) == []


@needs_namespace
def test_a_kept_disk_is_a_plain_folder_with_its_modes_and_links_and_the_owners_beside_it(tmp_path):
    machine, _ = run_on_a_small_disk(tmp_path, """
        install -m 750 -d /opt/kept
        echo secret > /opt/kept/file && chmod 600 /opt/kept/file
        ln -s /opt/kept/file /opt/kept/link
    """)
    keep_on_host(tmp_path / "mac")
    assert mounts_under(tmp_path) == []
    kept = tmp_path / "mac" / "disk" / "opt" / "kept"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o750
    assert stat.S_IMODE((kept / "file").stat().st_mode) == 0o600 and (kept / "file").read_text() == "secret\n"
    assert os.readlink(kept / "link") == "/opt/kept/file"
    assert (tmp_path / "mac" / "ownership.json").is_file()


@needs_namespace
def test_a_crash_runs_copy_of_a_disk_has_the_same_capacity(tmp_path):
    Volume.mount(tmp_path / "mac" / "disk", 3 * MIB)
    (tmp_path / "mac" / "disk" / "file").write_bytes(bytes(MIB))
    copy_tree(tmp_path / "mac", tmp_path / "copy")
    assert usage(tmp_path / "copy" / "disk").capacity_bytes == 3 * MIB
    assert (tmp_path / "copy" / "disk" / "file").stat().st_size == MIB
    remove_tree(tmp_path / "mac")
    remove_tree(tmp_path / "copy")


def test_a_process_that_cannot_enter_the_namespace_says_once_that_the_disk_is_unbounded(tmp_path):
    # unshare(CLONE_NEWUSER) is refused to a process with threads: a thread started first
    # stands for a host that refuses user namespaces.
    code = textwrap.dedent(f"""
        import threading, time
        from pathlib import Path
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        from harness.mac.confine import Volume
        print(Volume.mount(Path({str(tmp_path / 'a')!r})), Volume.mount(Path({str(tmp_path / 'b')!r})))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout == "None None\n"
    assert done.stderr.count("macsim: the Mac's disk has no size limit") == 1
    assert "threads" in done.stderr and (tmp_path / "a").is_dir()
