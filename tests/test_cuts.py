"""Cuts inside commands: the power goes between two changes one command makes to the disk."""
from __future__ import annotations

import textwrap

from harness import Limits

COPY = """
    #!/bin/bash
    set -e
    mkdir -p /opt/data
    head -c 300000 /dev/zero > /tmp/big
    cp /tmp/big /opt/data/copy
    mv /opt/data/copy /opt/data/final
    echo done >> /private/var/log/copy.log
"""

GIT = """
    #!/bin/bash
    set -e
    export HOME=/var/root
    git init -q /opt/repo
    cd /opt/repo
    echo one > file
    git add file
    git -c user.name=ops -c user.email=ops@example.test commit -qm one
    echo two > file
    git reset -q --hard HEAD
"""


def changes_of(mac, script: str) -> list[tuple[int, int, str, str]]:
    """(step, changes before it in the step, command, what) of every change the script makes."""
    seen = []
    machine = mac.new(limits=Limits(real_s=60))
    machine.stop_changes()
    machine.scheduler.before_change = lambda change, step, done: seen.append(
        (step, done, change.command, change.describe()))
    machine.start_script(textwrap.dedent(script).lstrip().encode())
    assert machine.run().verdict.value == "quiet"
    return seen


def test_every_change_a_command_makes_is_seen_before_it_happens_with_the_command_and_its_count(mac):
    seen = changes_of(mac, COPY)
    copying = [(done, what) for _, done, command, what in seen if command.startswith("cp ")]
    assert copying[0] == (0, "created /opt/data/copy")
    assert copying[1][1] == "wrote /opt/data/copy"  # consecutive writes through one descriptor: one change
    assert len(copying) == 2
    moving = [what for _, _, command, what in seen if command.startswith("mv ")]
    assert moving == ["renamed /opt/data/copy -> /opt/data/final"]
    assert not [what for *_, what in seen if "/tmp/" in what]  # boot empties /tmp: no change
    assert [what for *_, what in seen if what.endswith("copy.log")] == [
        "created /private/var/log/copy.log", "wrote /private/var/log/copy.log"]


def test_a_cut_inside_cp_leaves_the_copy_created_and_empty(mac):
    step = next(step for step, done, command, what in changes_of(mac, COPY) if what == "wrote /opt/data/copy")
    machine = mac.new(limits=Limits(real_s=60))
    machine.power_loss_at_step(step, after_changes=1)
    machine.start_script(textwrap.dedent(COPY).lstrip().encode())
    result = machine.run()
    cut = next(e for e in result.trace.of_kind("power-loss"))
    assert cut.data["cause"] == f"injected in step {step} after 1 change(s), before cp /tmp/big " \
                                f"/opt/data/copy wrote /opt/data/copy"
    copy = machine.disk.host_path("/opt/data/copy")
    assert copy.exists() and copy.stat().st_size == 0
    assert not machine.disk.host_path("/opt/data/final").exists()


def test_a_cut_inside_git_reset_leaves_the_index_lock_behind(mac):
    seen = changes_of(mac, GIT)
    step, done = next((step, done) for step, done, command, what in seen
                      if command.startswith("git reset") and what.startswith("renamed /opt/repo/.git/index.lock"))
    machine = mac.new(limits=Limits(real_s=60))
    machine.power_loss_at_step(step, after_changes=done)
    machine.start_script(textwrap.dedent(GIT).lstrip().encode())
    machine.run()
    assert machine.disk.host_path("/opt/repo/.git/index.lock").exists()  # every later git command: "File exists"
