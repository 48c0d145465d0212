"""The host kept safe from the Macs it runs: each Mac's disk is a tmpfs of a given size, mounted
in a mount namespace of the controller's own.

A Mac's disk must fill up as a real one does: the write that would pass its capacity fails
inside the Mac with ENOSPC ("No space left on device"), and the host's own disk never takes
more than that. A tmpfs mounted with `size=` does exactly this, in the kernel, at the write.
Mounting needs CAP_SYS_ADMIN, which any user gets in a user namespace of their own: `enter()`
makes one (with a mount namespace) for the controller, mapping its uid to itself, so that
`os.getuid()` does not change. Mounts made there are seen by the controller, its forks and
the sandboxes it starts (bubblewrap nests its own namespaces inside), by nobody else, and go
away with the last process of the namespace: a crash leaves none behind.

Limits, said once on stderr when they apply:
- `unshare(CLONE_NEWUSER)` is refused to a process with more than one thread, so the namespace
  is entered early: by the command line and the pytest plugin before anything starts a thread,
  else at the first disk made. A process that already has threads then gets plain folders.
- A host may refuse user namespaces (sysctl, or Ubuntu 24.04's
  `kernel.apparmor_restrict_unprivileged_userns`, which lets the call succeed but takes every
  capability away). A forked probe tries first, so the controller never enters a namespace
  it cannot use; the disks are then plain folders on the host, unbounded.
- tmpfs lives in memory: a Mac's files count against the host's RAM (and, written by the Mac's
  processes, against their memory limit: bounds.py adds the disk's capacity to it).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

_CLONE_NEWUSER, _CLONE_NEWNS = 0x10000000, 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_REC, _MS_PRIVATE = 2, 4, 32, 0x4000, 1 << 18
_MNT_DETACH = 2
_LIBC = ctypes.CDLL(None, use_errno=True)

#: The errors of a write that found no room: what a full disk says.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)
#: A disk made before its Mac sets its capacity (Machine.run) can hold at most this much.
UNSET_CAPACITY_BYTES = 8 << 30
#: A run's own folder (the controller's socket, what its sessions print) holds at most this.
RUNTIME_BYTES = 64 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class _State:
    entered: bool = False
    refusal: str = ""  # why the namespace could not be entered, once known for good
    said: set[str] = field(default_factory=set)


_STATE = _State()


def say_once(key: str, message: str) -> None:
    """One line on stderr per process, however often the condition is met."""
    if key not in _STATE.said:
        _STATE.said.add(key)
        print(f"macsim: {message}", file=sys.stderr, flush=True)


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_to_self(pid: str, uid: int, gid: int) -> None:
    """Maps `uid` and `gid` to themselves in the user namespace of `pid` (only one's own ids
    without privileges; `setgroups` must then be denied first)."""
    _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/uid_map", f"{uid} {uid} 1")
    _write(f"/proc/{pid}/gid_map", f"{gid} {gid} 1")


def _identity_map(kind: str) -> str:
    """Every id this process's namespace maps, mapped to itself: `ID ID COUNT` per range."""
    with open(f"/proc/self/{kind}_map") as current:
        ranges = [line.split() for line in current if line.strip()]
    return "".join(f"{inner} {inner} {count}\n" for inner, _, count in ranges)


def _unshare_and_map() -> str:
    """Enters a new user and mount namespace; '' on success, else why not. Root maps every id
    it has to itself, written from a helper left outside (only a process with CAP_SETUID in the
    parent namespace may map more than its own id), so files of other owners keep them."""
    uid, gid = os.getuid(), os.getgid()
    helper, go = None, None
    if uid == 0:
        maps = {kind: _identity_map(kind) for kind in ("uid", "gid")}
        wait_r, go = os.pipe()
        helper = os.fork()
        if helper == 0:  # pragma: no cover (in the helper)
            status = 1
            try:
                os.close(go)
                if os.read(wait_r, 1) == b"g":
                    parent = str(os.getppid())
                    _write(f"/proc/{parent}/uid_map", maps["uid"])
                    _write(f"/proc/{parent}/gid_map", maps["gid"])
                    status = 0
            finally:
                os._exit(status)
        os.close(wait_r)
    try:
        if _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNS) != 0:
            return f"unshare(CLONE_NEWUSER) failed: {_errno_text()}"
        if helper is not None:
            os.write(go, b"g")
            os.close(go)
            go = None
            _, status = os.waitpid(helper, 0)
            helper = None
            if status != 0:
                _map_to_self("self", uid, gid)
        else:
            _map_to_self("self", uid, gid)
        if _LIBC.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            return f"the new namespace gives no right to mount ({_errno_text()})"
        return ""
    finally:
        if go is not None:
            os.close(go)
        if helper is not None:
            os.waitpid(helper, 0)


def _probe() -> str:
    """Tries the namespace and a tmpfs in a forked child: '' when both work here."""
    scratch = tempfile.mkdtemp(prefix="macsim-probe-")  # the mount dies with the child
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (in the child)
        why = "unknown"
        try:
            why = _unshare_and_map()
            if not why and _LIBC.mount(b"tmpfs", scratch.encode(), b"tmpfs", 0, b"size=1m") != 0:
                why = f"mounting a tmpfs in it failed: {_errno_text()}"
        except OSError as error:
            why = str(error)
        finally:
            os.write(write_end, why.encode()[:512])
            os._exit(0)
    os.close(write_end)
    why = os.read(read_end, 512).decode()
    os.close(read_end)
    os.waitpid(child, 0)
    os.rmdir(scratch)
    return why


def enter() -> bool:
    """Enters the controller's own user and mount namespace, once per process (forks inherit
    it). False when this process cannot: then disks are plain folders."""
    if _STATE.entered:
        return True
    if _STATE.refusal:
        return False
    if _threads() > 1:
        return False  # maybe later: threads that come and go (watch.release_fd) are short-lived
    why = _probe()
    if not why:
        why = _unshare_and_map()
    if why:
        _STATE.refusal = why
        return False
    _STATE.entered = True
    return True


def bounded() -> bool:
    """Whether disks made from now on get their size: enters the namespace if it still can,
    and says once why not."""
    if enter():
        return True
    why = _STATE.refusal or (f"this process already runs {_threads()} threads (the namespace must be entered "
                             "before any: macsim's command line and pytest plugin do so first)")
    say_once("unbounded-disk", f"the Mac's disk has no size limit: this host refuses the controller a mount "
                               f"namespace ({why}); a script can fill the host's disk (README: safety)")
    return False


@dataclass(frozen=True)
class Usage:
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    free_inodes: int

    @property
    def full(self) -> bool:
        """No page or no inode left: the last write or file made on it was refused (or just fit)."""
        return self.free_bytes < PAGE or self.free_inodes == 0


def usage(path: Path) -> Usage:
    info = os.statvfs(path)
    return Usage(info.f_blocks * info.f_frsize, (info.f_blocks - info.f_bfree) * info.f_frsize,
                 info.f_bavail * info.f_frsize, info.f_favail)


def _options(size_bytes: int) -> bytes:
    # One inode per page, at least 64 Ki: empty files cost no space, only inodes.
    inodes = max(65536, size_bytes // PAGE)
    return f"size={size_bytes},nr_inodes={inodes},mode=755".encode()


class Volume:
    """A tmpfs of a given size at a folder of the host, in the controller's namespace."""

    _mounted: dict[str, "Volume"] = {}  # by path: forks inherit it with the mounts

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path, self.size_bytes = path, size_bytes

    @classmethod
    def mount(cls, path: Path, size_bytes: int = UNSET_CAPACITY_BYTES) -> Volume | None:
        """Mounts a tmpfs of `size_bytes` at `path` (made if absent; it must be empty). None when
        this host gives no namespace: `path` is then a plain folder, and `bounded` said so."""
        path = Path(os.path.abspath(path))
        path.mkdir(parents=True, exist_ok=True)
        if not bounded():
            return None
        if _LIBC.mount(b"tmpfs", bytes(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, _options(size_bytes)) != 0:
            say_once("mount-failed", f"could not mount a tmpfs at {path} ({_errno_text()}): that disk has no "
                                     "size limit")
            return None
        volume = cls(path, size_bytes)
        cls._mounted[str(path)] = volume
        return volume

    @classmethod
    def at(cls, path: Path) -> Volume | None:
        """The volume mounted at `path` by this process (or the one it was forked from)."""
        return cls._mounted.get(os.path.abspath(path))

    def resize(self, size_bytes: int) -> None:
        """A new capacity; what is stored stays (a size below it refuses new writes only)."""
        if _LIBC.mount(b"tmpfs", bytes(self.path), b"tmpfs", _MS_REMOUNT | _MS_NOSUID | _MS_NODEV,
                       _options(size_bytes)) != 0:
            raise OSError(ctypes.get_errno(), f"resizing the tmpfs at {self.path}: {_errno_text()}")
        self.size_bytes = size_bytes

    def usage(self) -> Usage:
        return usage(self.path)

    def release(self) -> None:
        """Unmounts it: its files are gone (for whoever still holds one open, when they close it)."""
        Volume._mounted.pop(str(self.path), None)
        _LIBC.umount2(bytes(self.path), _MNT_DETACH)


def set_free_space(path: Path, free_bytes: int) -> None:
    """The capacity of the volume at `path` becomes what it holds now plus `free_bytes`."""
    volume = Volume.at(path)
    if volume is not None:
        volume.resize(volume.usage().used_bytes + free_bytes)


def capacity_bytes(path: Path) -> int:
    """The capacity of the volume at `path`; 0 for a plain folder."""
    volume = Volume.at(path)
    return volume.size_bytes if volume is not None else 0


def _unescape(field: str) -> str:
    """A path of /proc/self/mountinfo, where space, tab, newline and backslash are octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def mounts_under(path: Path) -> list[str]:
    """Every tmpfs mounted at or under `path` in this namespace, deepest first."""
    top = os.path.abspath(path)
    if top == "/":
        return []
    try:
        with open("/proc/self/mountinfo") as table:
            lines = [line.split() for line in table]
    except OSError:
        return []
    # Fields: id, parent, dev, root, mount point, options, optional fields..., "-", type, source, ...
    points = [_unescape(fields[4]) for fields in lines if fields[fields.index("-") + 1] == "tmpfs"]
    inside = [p for p in points if p == top or p.startswith(top + "/")]
    return sorted(set(inside), key=lambda p: p.count("/"), reverse=True)


def release_under(path: Path) -> None:
    """Unmounts every volume at or under `path` (a crash run's copy, a run's folder)."""
    if not _STATE.entered:
        return
    for point in mounts_under(path):
        volume = Volume._mounted.get(point)
        if volume is not None:
            volume.release()
        else:  # mounted by a fork of this process, which shares the namespace
            _LIBC.umount2(point.encode(), _MNT_DETACH)


def remove_tree(path: Path) -> None:
    """Removes a folder and everything in it, volumes included; never fails. (shutil.rmtree
    cannot remove a mount point: it would leave the Mac's disk behind, empty.)"""
    release_under(path)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def temporary_folder(prefix: str = "macsim-") -> Iterator[Path]:
    """A new folder for Macs, removed with everything in it at the end (as
    tempfile.TemporaryDirectory, which fails on a Mac's disk). Its name carries this process's
    id, for `macsim clean` to know whose it is."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    try:
        yield folder
    finally:
        remove_tree(folder)
