"""Snapshots of a running machine: a real copy of its folder, and a fork that cuts the power there."""
from __future__ import annotations

import os
import stat

from harness import Limits
from harness.mac import snapshot


def test_a_copy_keeps_folders_files_modes_and_links_and_shares_no_file_with_the_original(tmp_path):
    source = tmp_path / "source"
    (source / "etc").mkdir(parents=True)
    (source / "etc" / "log").write_text("one\n")
    os.chmod(source / "etc" / "log", 0o600)
    os.chmod(source / "etc", 0o750)
    os.symlink("etc/log", source / "link")
    snapshot.copy_tree(source, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / "etc" / "log").read_text() == "one\n"
    assert stat.S_IMODE(os.stat(copy / "etc" / "log").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(copy / "etc").st_mode) == 0o750
    assert os.readlink(copy / "link") == "etc/log"
    with open(source / "etc" / "log", "a") as log:  # `>>` writes in place: a hard link would see it
        log.write("two\n")
    assert (copy / "etc" / "log").read_text() == "one\n"


def test_a_fork_cut_at_a_step_runs_on_from_its_copy_and_leaves_the_original_running(mac, tmp_path):
    machine = mac.new(limits=Limits(real_s=60))
    machine.start_script(b"#!/bin/bash\necho one >> /var/tmp/log\necho two >> /var/tmp/log\necho three >> /var/tmp/log\n")
    reports = tmp_path / "fork.txt"

    def before_grant(request) -> None:
        if machine.steps != 2:
            return
        saved = tmp_path / "saved"
        snapshot.save(machine, saved)
        pid = snapshot.fork(machine)
        if pid == 0:
            try:
                result = snapshot.cut_power(machine, saved, "injected before step 2")
                log = (saved / "mac" / "disk" / "private" / "var" / "tmp" / "log").read_text()
                reports.write_text(f"{result.verdict.value} {result.boots} {log!r} "
                                   f"{[e.data['cause'] for e in result.trace.of_kind('power-loss')]}")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)

    machine.scheduler.before_grant = before_grant
    result = machine.run()
    assert result.verdict.value == "quiet" and mac.read("/var/tmp/log") == "one\ntwo\nthree\n"
    assert reports.read_text() == "quiet 2 'one\\n' ['injected before step 2']"
