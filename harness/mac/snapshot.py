"""Crash runs forked from a running machine: the power cut at one moment of a reference run,
without running again what led there.

At a moment of a run (a step about to be granted; with cuts.py, a command stopped between two
of its changes to the disk) the controller copies the machine's folder (the disk, the ownership
table beside it, the world's folders such as GitHub's repositories: `copy_tree`) and forks
(`fork`). The fork is the machine at that moment, all of it: the clock and its pending events,
the boots, the trace so far, launchd's state, the random streams, the models of the world with
their plans and closures. It lets go of the running boot without touching it (the original goes
on running it), moves to its copy of the folder and cuts the power there (`cut_power`): the
processes and /tmp go as they would, and the Mac boots again from the disk the cut left. What
follows is exactly what a replay with `--power-loss-at-step` runs after its cut; what led there
is not run again.

The copy is a real one: a hard link would share a file with the original, which `>>` appends to
in place. Modification times are not copied (they are the host's, never part of a trace). On a
tmpfs folder (`scratch_dir`) a disk of a few hundred entries copies in a few milliseconds.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import watch
from .confine import Volume, mounts_under, release_under

if TYPE_CHECKING:
    from .machine import Machine, RunResult

#: Where scratch folders go when the host has a tmpfs there: copies cost a fraction of a disk's.
TMPFS = Path("/dev/shm")


def scratch_dir(prefix: str) -> Path:
    """A new folder for machines' copies: on tmpfs when the host has one, else the usual place.
    Its name carries this process's id, for `macsim clean` to know whose it is."""
    where = TMPFS if TMPFS.is_dir() and os.access(TMPFS, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=where))


def copy_tree(source: Path, target: Path, *, volumes: bool = True) -> None:
    """Copies the folder `source` to `target` (absent): folders, files with their modes, and
    symbolic links as links. A Mac's disk (a volume, confine.py) is copied onto a volume of the
    same capacity (a crash run's Mac fills up where the original would have), or, without
    `volumes`, into a plain folder."""
    _make_folder(str(source), str(target), stat.S_IMODE(os.lstat(source).st_mode), volumes)
    folders = [(source, target)]
    while folders:
        here, there = folders.pop()
        with os.scandir(here) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                mode, copy = stat.S_IMODE(info.st_mode), os.path.join(there, entry.name)
                if stat.S_ISDIR(info.st_mode):
                    _make_folder(entry.path, copy, mode, volumes)
                    folders.append((Path(entry.path), Path(copy)))
                elif stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(entry.path), copy)
                elif stat.S_ISREG(info.st_mode):
                    _copy_file(entry.path, copy, mode, info.st_size)
                # sockets and fifos (a crashed process's leftovers) are not part of a disk's state


def _make_folder(source: str, target: str, mode: int, volumes: bool) -> None:
    volume = Volume.at(Path(source)) if volumes else None
    if volume is not None:
        Volume.mount(Path(target), volume.size_bytes)
    else:
        os.mkdir(target, mode)
    os.chmod(target, mode)  # mkdir's mode passes through the umask


def _copy_file(source: str, target: str, mode: int, size: int) -> None:
    reader = os.open(source, os.O_RDONLY)
    try:
        writer = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            while size > 0:
                try:
                    copied = os.copy_file_range(reader, writer, size)
                except OSError:  # across file systems (the runtime in /tmp, the copy on tmpfs)
                    copied = os.sendfile(writer, reader, None, size)
                if copied <= 0:
                    break
                size -= copied
            os.fchmod(writer, mode)
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def keep_on_host(folder: Path) -> None:
    """Turns every Mac's disk under `folder` into a plain folder with the same content (modes,
    symbolic links; the ownership table is beside it already): what `--keep-disk` leaves, which
    must outlive the controller's namespace."""
    for point in mounts_under(folder):
        kept = Path(f"{point}.kept")
        copy_tree(Path(point), kept, volumes=False)
        release_under(Path(point))
        os.rmdir(point)
        os.rename(kept, point)


def save(machine: Machine, target: Path) -> None:
    """Copies what persists of the running machine to `target` (absent): its folder at
    `target/mac`, the files of its runtime folder (the network's flag, session outputs) at
    `target/run`. `cut_power` in a fork made now goes on from there."""
    target.mkdir()
    copy_tree(machine.directory, target / "mac")
    (target / "run").mkdir()
    for kept in sorted(machine.shared_dir.iterdir()):
        if kept.is_file() and not kept.is_socket():
            _copy_file(str(kept), str(target / "run" / kept.name), 0o644, kept.stat().st_size)


def fork(machine: Machine) -> int:
    """os.fork() at this moment of the machine's run. In the fork (0 returned), the running boot
    has been let go of (`detach`); the original goes on untouched."""
    watch.prefetch(machine.disk.root)  # both copies get the same changes; neither reads the other's
    boot = machine.boots.boot
    open_files = boot.files_open_for_writing() if boot is not None else []
    pid = os.fork()
    if pid == 0:
        detach(machine)
        # The cut kills the processes, and with them goes every file they had open for writing:
        # inotify would say so; here nobody dies, so the fork's watch is told.
        watch.inject_closes(machine.disk.root, open_files)
    return pid


def detach(machine: Machine) -> None:
    """In a fork of the controller: lets go of what it shares with the original (the boot's
    sandbox, init's pipes, the sockets, the selector, the disk's watch) without a word to the
    kernel objects behind them, which the original still uses."""
    # The original's crash points are not the fork's: no hooks, and its boots stop no changes
    # (after its own cut, nothing is cut again).
    machine.scheduler.before_grant = machine.scheduler.before_change = None
    machine.boots.stop_changes(None, lambda: 0)
    if machine.boots.boot is not None:
        machine.boots.boot.abandon()
    machine.switchboard.detach()
    watch.detach_all()


def cut_power(machine: Machine, saved: Path, cause: str) -> RunResult:
    """In a detached fork: moves to `saved` (what `save` kept at the moment of the fork, or a
    `copy_tree` of it), cuts the power there, and runs the machine to its end."""
    return machine.continue_in(saved / "mac", lambda: machine.boots.power_loss(cause), saved / "run")
