"""Changes to files on the Mac's disk, seen through Linux inotify.

Every directory of the disk is watched. `drain()` returns what changed since the last call,
coalesced per path, in a stable order: the controller calls it at each step, so each change
is attributed to the step that made it. Changes inside a directory created within the same
drain are folded into that directory's creation, and git's own bookkeeping under `.git/` is
left out: a clone is one event, not thousands.

A watch is made at every boot and closed at its end, but the inotify instance behind it lives
on for the next boot of the same disk (closing one waits for the kernel to free its marks, 10
to 15 ms): a new watch takes it over, drops what it reported while no watch was open, and
watches every directory again. `release()` closes it for good, in the background.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import threading
from pathlib import Path

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WATCH_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_EVENT = struct.Struct("iIII")
#: Inotify instances between two boots of a disk: root -> (descriptor, its watched directories).
_PARKED: dict[Path, tuple[int, dict[int, str]]] = {}
#: The watch of each disk being watched now.
_LIVE: dict[Path, "DiskWatch"] = {}


class DiskWatch:
    """Watches every directory under `root`; reports macOS paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        parked = _PARKED.pop(root, None)
        if parked is not None:
            self.fd, self._dirs = parked
            _read_all(self.fd)  # changes made while no watch was open are not reported
        else:
            self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if self.fd < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1 failed")
            self._dirs = {}
        self.overflowed = False
        self._pending = b""  # read ahead of a drain (prefetch), reported by the next one
        self._watch_tree(root)
        _LIVE[root] = self

    def close(self) -> None:
        """Ends this watch; its inotify instance waits for the next boot of the disk."""
        if _LIVE.get(self.root) is self:
            del _LIVE[self.root]
        if self.fd >= 0:
            stale = _PARKED.pop(self.root, None)
            if stale is not None:
                release_fd(stale[0])
            _PARKED[self.root] = (self.fd, self._dirs)
            self.fd = -1


    def _watch(self, directory: Path) -> None:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(directory), WATCH_MASK)
        if wd >= 0:
            self._dirs[wd] = self._mac(directory)
        elif ctypes.get_errno() == errno.ENOSPC:
            self.overflowed = True

    def _watch_tree(self, top: Path) -> None:
        if self.fd < 0:
            return  # a detached watch (detach_all) adds nothing
        for directory, subdirs, _ in os.walk(top):
            subdirs[:] = [d for d in subdirs if d != ".git"]
            self._watch(Path(directory))

    def _mac(self, host: Path) -> str:
        relative = host.relative_to(self.root).as_posix()
        return "/" if relative == "." else "/" + relative

    def drain(self) -> list[tuple[str, str, str | None]]:
        """(macOS path, change, old path) since the last call; change is created, written,
        removed, renamed (from the old path), moved-away, moved-here or attributes."""
        raw, self._pending = self._pending + (_read_all(self.fd) if self.fd >= 0 else b""), b""
        changes: dict[str, str] = {}
        renamed_from: dict[int, str] = {}  # inotify cookie -> the old name of a rename
        sources: dict[str, str] = {}  # new name -> old name, for renames within the disk
        offset = 0
        while offset + _EVENT.size <= len(raw):
            wd, mask, cookie, length = _EVENT.unpack_from(raw, offset)
            name = raw[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                self.overflowed = True
                continue
            parent = self._dirs.get(wd)
            if parent is None or not name:
                continue
            path = (parent.rstrip("/") + "/" + os.fsdecode(name))
            if "/.git/" in path + "/":
                continue
            if mask & IN_MOVED_FROM:
                renamed_from[cookie] = path
            elif mask & IN_MOVED_TO and cookie in renamed_from:
                sources[path] = renamed_from[cookie]
            self._record(changes, path, mask)
        for new, old in sources.items():
            if changes.get(new) == "moved-here":
                changes[new] = "renamed"
                if changes.get(old) == "moved-away":
                    del changes[old]  # reported once, as the rename
        return [(path, change, sources.get(path) if change == "renamed" else None)
                for path, change in self._fold(changes)]

    def _record(self, changes: dict[str, str], path: str, mask: int) -> None:
        previous = changes.get(path)
        if mask & (IN_CREATE | IN_MOVED_TO):
            if mask & IN_ISDIR:
                self._watch_tree(self.root / path.lstrip("/"))
            change = "moved-here" if mask & IN_MOVED_TO else "created"
        elif mask & (IN_DELETE | IN_MOVED_FROM):
            change = "moved-away" if mask & IN_MOVED_FROM else "removed"
            if previous == "created" or (previous == "moved-here" and mask & IN_DELETE):
                changes.pop(path)  # a temporary file that came and went within one step
                return
        elif mask & IN_CLOSE_WRITE:
            change = "created" if previous == "created" else "written"
        else:
            change = previous or "attributes"
        if previous == "created" and change in ("written", "attributes"):
            change = "created"
        changes[path] = change

    @staticmethod
    def _fold(changes: dict[str, str]) -> list[tuple[str, str]]:
        created = {p for p, c in changes.items() if c in ("created", "moved-here", "renamed")}
        folded = []
        for path in sorted(changes):
            parent = path.rsplit("/", 1)[0]
            while parent and parent not in created:
                parent = parent.rsplit("/", 1)[0]
            if not parent:
                folded.append((path, changes[path]))
        return folded


def _read_all(fd: int) -> bytes:
    raw = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return raw
        if not chunk:
            return raw
        raw += chunk


def release_fd(fd: int) -> None:
    # The kernel frees the watches before close() returns: in the background, nobody waits.
    threading.Thread(target=os.close, args=(fd,), daemon=True).start()


def release(root: Path) -> None:
    """Closes the inotify instance kept for `root`'s next boot: the machine has run."""
    parked = _PARKED.pop(root, None)
    if parked is not None:
        release_fd(parked[0])


def prefetch(root: Path) -> None:
    """Reads what the kernel has queued for `root`'s watch; its next drain reports it. Done just
    before the controller forks (snapshot.py): both copies then hold the same changes, and
    neither has to read the instance they share."""
    watch = _LIVE.get(root)
    if watch is not None and watch.fd >= 0:
        watch._pending += _read_all(watch.fd)


def detach_all() -> None:
    """In a forked copy of the controller: lets go of every inotify instance without reading
    or closing it for the original, which still uses it. A live watch keeps what was read
    ahead (`prefetch`) and reports only that from now on."""
    for watch in _LIVE.values():
        if watch.fd >= 0:
            os.close(watch.fd)  # this copy's descriptor only
            watch.fd = -1
    for fd, _ in _PARKED.values():
        os.close(fd)
    _PARKED.clear()


def inject_closes(root: Path, mac_paths: list[str]) -> None:
    """Adds to what `root`'s watch reports next a close after writing of each of `mac_paths`:
    what the kernel would queue if the processes holding them open died now (snapshot.py: a
    fork cuts the power without killing the original's processes)."""
    watch = _LIVE.get(root)
    if watch is None:
        return
    by_dir = {path: wd for wd, path in watch._dirs.items()}
    for mac_path in mac_paths:
        folder, _, name = mac_path.rpartition("/")
        wd = by_dir.get(folder or "/")
        if wd is not None and name:
            raw = os.fsencode(name) + b"\0"
            raw += b"\0" * (-len(raw) % 4)
            watch._pending += _EVENT.pack(wd, IN_CLOSE_WRITE, 0, len(raw)) + raw
