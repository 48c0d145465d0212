"""File changes on the Mac's disk, drained at each step and credited to the step that made them.

The kernel sees every write; here inotify (watch.py) reports them and this module turns each
into what the Mac records: the ownership table follows renames and removals, a file a non-root
user created is theirs, and every change is a `file` event, with launchd's verdict on a daemon
plist written where launchd loads from. A change can make a PathState job runnable. A step
after which the disk has no room left (a write refused with ENOSPC, or one that just fit) is a
`disk-full` event, once until room comes back (confine.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from .confine import Volume
from .disk import Disk
from .watch import DiskWatch

DAEMON_DIRS_ON_DISK = ("/Library/LaunchDaemons/", "/System/Library/LaunchDaemons/")


class Holder(Protocol):
    """The step in progress: whose changes these are."""

    ns_pid: int
    job: str | None
    user: str


class LaunchdView(Protocol):
    def verdict_on(self, mac_path: str) -> str: ...

    def files_changed(self) -> None: ...


class FileChanges:
    def __init__(self, disk: Disk, launchd: LaunchdView, event: Callable[..., None]) -> None:
        self._disk = disk
        self._launchd = launchd
        self._event = event
        self._watch: DiskWatch | None = None
        self._volume: Volume | None = None
        self._full = False

    def watch(self, root: Path) -> None:
        """Starts watching at a boot. Not in the controller's selector: changes are drained at
        each step, so that each change belongs to the step that made it."""
        self._watch = DiskWatch(root)
        self._volume = Volume.at(root)

    def stop(self, holder: Holder | None) -> None:
        if self._watch:
            self.drain(holder)
            self._watch.close()
            self._watch = None

    def drain(self, holder: Holder | None) -> None:
        if self._watch is None:
            return
        user = holder.user if holder else "root"
        changes = self._watch.drain()
        for path, change, source in changes:
            if change == "renamed":
                self._disk.ownership.rename(source, path)
            elif change in ("created", "moved-here") and user != "root":
                self._disk.ownership.record_created(path, user)
            elif change == "removed":
                self._disk.ownership.forget(path)
            extra = {"from": source} if source else {}
            if change in ("created", "moved-here", "renamed") and \
                    self._disk.host_path(path, follow_last=False).is_dir():
                extra["directory"] = True  # a power cut cannot tear it (unflushed.py)
            if change != "removed" and path.endswith(".plist") and path.startswith(DAEMON_DIRS_ON_DISK):
                extra["launchd"] = self._launchd.verdict_on(path)
            self._event("file", pid=holder.ns_pid if holder else None, job=holder.job if holder else None,
                        path=path, change=change, **extra)
        if changes:  # PathState jobs only care when something changed; most steps change nothing
            self._launchd.files_changed()
        if self._volume is not None:
            self._note_space(holder)

    def _note_space(self, holder: Holder | None) -> None:
        usage = self._volume.usage()
        if usage.full and not self._full:
            what = "no inode left" if usage.free_inodes == 0 else "no space left"
            self._event("disk-full", pid=holder.ns_pid if holder else None, job=holder.job if holder else None,
                        capacity_mb=round(usage.capacity_bytes / (1 << 20), 1),
                        detail=f"{what} on the Mac's disk ({usage.capacity_bytes >> 20} MiB): writes fail with "
                               "No space left on device")
        self._full = usage.full
