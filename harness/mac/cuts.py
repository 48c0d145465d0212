"""Cuts inside commands: the power can go between two of the changes one command makes to the disk.

A power cut between two steps never interrupts a command, so what an abrupt reboot leaves in
the middle of one (git's .git/index.lock, a half-written pack, a half-copied file) would be out
of reach. When asked (`Boot(cuts=True)`), the boot's init installs a seccomp filter on itself,
inherited by every process of the boot (native/macsim.c, install_cut_filter): each syscall that
can change a file (opening for writing, writing, renaming, linking, unlinking, making or
removing a folder, truncating, changing a mode) waits until the controller has seen it. The
`Supervisor` reads those notifications (seccomp_unotify(2)), tells what each one is about to
change, and lets it go on; the machine may cut the power first, with the command stopped just
before that change and every earlier one done.

What counts as a change is decided here, the same way for every run, so that "in step K, after
N changes" names one moment: a syscall on a file of the persistent disk (not what boot empties,
not macsim's own files, not a pipe) that changes it. Opening for writing counts only when it
creates the file or truncates a non-empty one; consecutive writes through one descriptor count
as one change (the file partly written is the state before its first write or after its last).

Costs: a notification per syscall stopped (a pipe's writes included, let through at once), so
it is on only where cuts are wanted: exploration's reference run, and a replay of a cut.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import re
import struct
from dataclasses import dataclass
from typing import Callable

from ..errors import SandboxError
from .paths import DISK_TOP_LEVEL, canonical

_NOTIF = struct.Struct("=QIIiIQ6Q")  # seccomp_notif: id, pid, flags, data {nr, arch, ip, args[6]}
_RESPONSE = struct.Struct("=QqiI")  # seccomp_notif_resp: id, val, error, flags
_RECV, _SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV, _SEND
_CONTINUE = 1  # SECCOMP_USER_NOTIF_FLAG_CONTINUE
_AT_FDCWD = -100
_AT_REMOVEDIR = 0x200
_O_CREAT, _O_TRUNC = os.O_CREAT, os.O_TRUNC
_PIDFD_GETFD = 438
#: Where a change is not to the persistent disk: what every boot empties.
BOOT_EMPTIES = ("/private/tmp", "/private/var/run")

# Syscall numbers (what the filter stops) by machine: name -> number.
_X86_64 = {"write": 1, "open": 2, "pwrite64": 18, "writev": 20, "sendfile": 40, "truncate": 76, "ftruncate": 77,
           "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86, "unlink": 87, "symlink": 88,
           "chmod": 90, "fchmod": 91, "openat": 257, "mkdirat": 258, "unlinkat": 263, "renameat": 264,
           "linkat": 265, "symlinkat": 266, "fchmodat": 268, "fallocate": 285, "pwritev": 296,
           "renameat2": 316, "copy_file_range": 326, "pwritev2": 328, "openat2": 437}
_AARCH64 = {"write": 64, "pwrite64": 68, "writev": 66, "sendfile": 71, "truncate": 45, "ftruncate": 46,
            "fallocate": 47, "fchmod": 52, "fchmodat": 53, "openat": 56, "mkdirat": 34, "unlinkat": 35,
            "symlinkat": 36, "linkat": 37, "renameat": 38, "renameat2": 276, "pwritev": 70, "pwritev2": 287,
            "copy_file_range": 285, "openat2": 437}
SYSCALLS = {number: name for name, number in
            (_AARCH64 if platform.machine() in ("aarch64", "arm64") else _X86_64).items()}
_BY_DESCRIPTOR = {"write": "wrote", "pwrite64": "wrote", "writev": "wrote", "pwritev": "wrote",
                  "pwritev2": "wrote", "sendfile": "wrote", "ftruncate": "truncated", "fallocate": "wrote",
                  "fchmod": "changed the mode of"}


class CutsUnavailable(SandboxError):
    """This host does not let init stop changes for the controller (seccomp user notification
    and pidfd_getfd(2) need Linux 5.6 and seccomp allowed where macsim runs)."""


@dataclass(frozen=True)
class Change:
    """One change a process is about to make to the disk (paths as the Mac names them)."""

    host_pid: int
    command: str  # the process's command line, shortened
    what: str  # created, truncated, wrote, renamed, linked, removed, made folder, ...
    path: str
    to: str = ""  # a rename's or a link's new name
    descriptor: int | None = None  # for writes: consecutive ones through it are one change

    def describe(self) -> str:
        return f"{self.what} {_steady(self.path)}" + (f" -> {_steady(self.to)}" if self.to else "")


#: git's temporary files get random names (mkstemp): shown as XXXXXX, so that what one run
#: reports of a cut reads the same in every run (and in every shard of an exploration).
_GIT_TEMPORARY = re.compile(r"(/\.git/(?:.*/)?(?:tmp_obj_|tmp_pack_|tmp_idx_|tmp_rev_|tmp_mtimes_|t))[A-Za-z0-9]{6}$")


def _steady(path: str) -> str:
    return _GIT_TEMPORARY.sub(r"\1XXXXXX", path)


def cause(step: int, done: int, change: Change) -> str:
    """The power-loss event's cause for a cut in `step` after `done` changes, before `change`:
    the same words whether the cut was forked from a reference run or replayed."""
    return f"injected in step {step} after {done} change(s), before {change.command} {change.describe()}"


def listener_of(init_host_pid: int, fd_in_init: int) -> int | None:
    """Our copy of init's seccomp listener (pidfd_getfd(2)), or None where the host refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(init_host_pid)
    except OSError:
        return None
    try:
        fd = libc.syscall(_PIDFD_GETFD, pidfd, fd_in_init, 0)
        return fd if fd >= 0 else None
    finally:
        os.close(pidfd)


class Supervisor:
    """Reads the boot's seccomp notifications and lets each syscall go on, after telling
    `on_change` about the ones that change the disk (with how many came before in the step)."""

    def __init__(self, fd: int, *, step: Callable[[], int],
                 on_change: Callable[[Change, int, int], str | None]) -> None:
        self.fd = fd
        self._step, self._on_change = step, on_change
        self._counted_step = -1
        self._count = 0
        self._last_write: tuple[int, int] | None = None

    def close(self) -> None:
        """Ends supervision (the boot is over); our copy of the listener goes."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    detach = close  # in a fork of the controller: this copy only, the original keeps its own

    def handle(self) -> None:
        """One notification: tell what it changes, then let the syscall go on (unless the
        machine cut the power meanwhile: then nobody is waiting for the answer)."""
        raw = bytearray(_NOTIF.size)
        try:
            fcntl.ioctl(self.fd, _RECV, raw)
        except OSError:
            return  # the process died while we looked
        notification_id, host_pid, _, nr, _, _, *args = _NOTIF.unpack(raw)
        change = self._classify(host_pid, SYSCALLS.get(nr, ""), args)
        if change is not None and self._counts(change):
            step = self._step()
            if step != self._counted_step:
                self._counted_step, self._count = step, 0
            done, self._count = self._count, self._count + 1
            if self._on_change(change, step, done) == "cut":
                return
        try:
            fcntl.ioctl(self.fd, _SEND, bytearray(_RESPONSE.pack(notification_id, 0, 0, _CONTINUE)))
        except OSError:
            pass  # it died meanwhile

    def _counts(self, change: Change) -> bool:
        if change.descriptor is None:
            self._last_write = None
            return True
        write = (change.host_pid, change.descriptor)
        new, self._last_write = write != self._last_write, write
        return new

    def _classify(self, host_pid: int, name: str, args: list[int]) -> Change | None:
        try:
            return _classify(host_pid, name, args)
        except (OSError, ValueError):
            return None  # the process went away, or a path we cannot read: not a change we can name


def _classify(pid: int, name: str, args: list[int]) -> Change | None:
    def path(address_arg: int, dirfd_arg: int | None = None) -> str:
        return _resolve(pid, _read_string(pid, args[address_arg]),
                        _signed(args[dirfd_arg]) if dirfd_arg is not None else _AT_FDCWD)

    if name in _BY_DESCRIPTOR or name == "copy_file_range":
        fd = args[2] if name == "copy_file_range" else args[0]
        target = os.readlink(f"/proc/{pid}/fd/{_signed(fd)}")
        return _change(pid, _BY_DESCRIPTOR.get(name, "wrote"), target, descriptor=_signed(fd))
    if name in ("open", "creat", "openat", "openat2"):
        where = path(0) if name in ("open", "creat") else path(1, 0)
        flags = {"open": args[1], "creat": _O_CREAT | _O_TRUNC, "openat": args[2]}.get(name, _O_CREAT)
        host = f"/proc/{pid}/root{where}"
        exists = os.path.lexists(host)
        if flags & _O_CREAT and not exists:
            return _change(pid, "created", where)
        if flags & _O_TRUNC and exists and os.path.isfile(host) and os.path.getsize(host) > 0:
            return _change(pid, "truncated", where)
        return None
    if name in ("rename", "renameat", "renameat2"):
        old, new = (path(0), path(1)) if name == "rename" else (path(1, 0), path(3, 2))
        return _change(pid, "renamed", old, new)
    if name in ("link", "linkat"):
        old, new = (path(0), path(1)) if name == "link" else (path(1, 0), path(3, 2))
        return _change(pid, "linked", old, new)
    if name in ("symlink", "symlinkat"):
        new = path(1) if name == "symlink" else path(2, 1)
        return _change(pid, "made a symbolic link", new)
    if name in ("unlink", "rmdir", "unlinkat"):
        removed = path(0) if name != "unlinkat" else path(1, 0)
        folder = name == "rmdir" or (name == "unlinkat" and args[2] & _AT_REMOVEDIR)
        return _change(pid, "removed folder" if folder else "removed", removed)
    if name in ("mkdir", "mkdirat"):
        return _change(pid, "made folder", path(0) if name == "mkdir" else path(1, 0))
    if name in ("truncate", "chmod", "fchmodat"):
        where = path(1, 0) if name == "fchmodat" else path(0)
        return _change(pid, "truncated" if name == "truncate" else "changed the mode of", where)
    return None


def _change(pid: int, what: str, path: str, to: str = "", descriptor: int | None = None) -> Change | None:
    """The change, if `path` (and `to`) is on the persistent disk; None otherwise."""
    if not all(_persistent(p) for p in (path, to) if p):
        return None
    return Change(pid, _command(pid), what, canonical(path), canonical(to) if to else "", descriptor)


def _persistent(path: str) -> bool:
    path = canonical(path)
    top = path[1:].partition("/")[0]
    on_disk = top in DISK_TOP_LEVEL or path == "/usr/local" or path.startswith("/usr/local/")
    return on_disk and not any(path == e or path.startswith(e + "/") for e in BOOT_EMPTIES)


def _resolve(pid: int, path: str, dirfd: int) -> str:
    """The absolute path (as the process sees it) of `path` relative to `dirfd`."""
    if not path.startswith("/"):
        base = os.readlink(f"/proc/{pid}/cwd" if dirfd == _AT_FDCWD else f"/proc/{pid}/fd/{dirfd}")
        path = f"{base.rstrip('/')}/{path}"
    return os.path.normpath(path)


def _read_string(pid: int, address: int) -> str:
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        memory.seek(address)
        data = memory.read(4096)
    return os.fsdecode(data.partition(b"\0")[0])


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = [os.fsdecode(w) for w in cmdline.read().split(b"\0") if w]
    except OSError:
        return "?"
    words[0:1] = [os.path.basename(words[0])] if words else ["?"]
    return " ".join(words)[:120]


def _signed(value: int) -> int:
    """A syscall argument as the signed int the kernel reads (AT_FDCWD is -100)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
