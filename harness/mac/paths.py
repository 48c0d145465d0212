"""Where a macOS path lands on the Mac's disk: the disk's fixed names, and path resolution as the
Mac's kernel does it, so that a symlink on the disk can never lead a caller out of it.

The disk is a host directory that every sandboxed process sees as `/`; /usr (except /usr/local),
/bin, /sbin, /dev, /proc and /lib* are the host's read-only trees in the sandbox, not the disk's.
"""
from __future__ import annotations

import errno
import os
import stat
from collections import deque
from pathlib import Path

DISK_TOP_LEVEL: tuple[str, ...] = (
    "Applications", "Library", "System", "Users", "Volumes", "opt", "private", "cores")
DISK_TOP_SYMLINKS: dict[str, str] = {
    "etc": "private/etc", "var": "private/var", "tmp": "private/tmp"}
#: The only part of /usr on the Mac's disk; the rest of /usr is the host's, read-only.
USR_LOCAL = "usr/local"
EMPTIED_AT_BOOT: tuple[str, ...] = ("/private/tmp", "/private/var/run")
#: Same limit as the macOS kernel (MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40
_HOST_TOP = ("bin", "sbin", "dev", "proc")  # and /lib*, and /usr except /usr/local


class DiskError(OSError):
    """A disk operation failed; `errno` says how, as it would for the kernel."""


class OutsideDisk(ValueError):
    """A path resolves into one of the host's read-only trees, not onto the Mac's disk."""

    def __init__(self, mac_path: str) -> None:
        self.mac_path = mac_path
        super().__init__(
            f"{mac_path} is not on the Mac's disk: /usr (except /usr/local), /bin, /sbin, /dev, "
            f"/proc and /lib* are the host's read-only trees in the sandbox; use a path under "
            f"/usr/local, /opt, /Library or /private instead")


def canonical(mac_path: str) -> str:
    """`mac_path` with macOS's /etc, /var and /tmp aliases resolved into /private (no trailing /)."""
    top, _, rest = mac_path[1:].partition("/")
    return f"/{DISK_TOP_SYMLINKS[top]}/{rest}".rstrip("/") if top in DISK_TOP_SYMLINKS else mac_path


def in_host_tree(parts: list[str]) -> bool:
    """True for a path (as components) that the sandbox takes from the host, not the disk."""
    top = parts[0] if parts else ""
    if top in _HOST_TOP or top.startswith("lib"):
        return True
    return top == "usr" and parts[1:2] != ["local"]


def join(parts: list[str] | tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


def under(key: str, top: str) -> bool:
    return top == "/" or key == top or key.startswith(top + "/")


class DiskPaths:
    """Path resolution on one disk rooted at `root` on the host."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))

    def host_path(self, mac_path: str, *, cwd: str = "/", follow_last: bool = True) -> Path:
        """The host file that `mac_path` names for a process inside the Mac whose cwd is `cwd`."""
        return self.root.joinpath(*self._resolve_parts(mac_path, cwd, follow_last))

    def present(self, mac_path: str) -> Path | None:
        """The host path of `mac_path` when something is there on the disk, else None (a link
        that leads off the disk, to the host's tools say, counts as nothing there)."""
        try:
            host = self.host_path(mac_path)
        except OutsideDisk:
            return None
        return host if os.path.lexists(host) else None

    def mac_path(self, host_path: Path) -> str:
        """The macOS path of a host path under the disk root ("/" for the root itself)."""
        absolute = Path(os.path.abspath(host_path))
        if not absolute.is_relative_to(self.root):
            raise ValueError(f"{host_path} is not on the Mac's disk: expected a path under "
                             f"{self.root}")
        return join(absolute.relative_to(self.root).parts)

    def resolve(self, mac_path: str, *, cwd: str = "/", follow_last: bool = True) -> str:
        """The canonical macOS path, symlinks resolved: "/etc/passwd" -> "/private/etc/passwd"."""
        return join(self._resolve_parts(mac_path, cwd, follow_last))

    def _resolve_parts(self, mac_path: str, cwd: str, follow_last: bool) -> list[str]:
        if not mac_path:
            raise DiskError(errno.ENOENT, "empty path: expected a macOS path such as /etc/hosts")
        full = mac_path if mac_path.startswith("/") else f"{cwd}/{mac_path}"
        # Like the kernel, a trailing slash makes the last component a directory to enter.
        follow_last = follow_last or mac_path.endswith("/")
        pending = deque(part for part in full.split("/") if part)
        resolved: list[str] = []
        hops = 0
        while pending:
            name = pending.popleft()
            if name in (".", ".."):
                if name == ".." and resolved:
                    resolved.pop()
                continue
            resolved.append(name)
            # Host trees are not on the disk: their symlinks are not ours to read.
            if in_host_tree(resolved) or (not pending and not follow_last):
                continue
            target = self._readlink(resolved)
            if target is None:
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise DiskError(errno.ELOOP, f"Too many levels of symbolic links resolving "
                                f"{mac_path}: more than {MAX_SYMLINK_HOPS} hops, the last at "
                                f"{join(resolved)}; fix the symlink loop on the disk")
            resolved.pop()
            if target.startswith("/"):
                resolved.clear()
            pending.extendleft(reversed([part for part in target.split("/") if part]))
        if in_host_tree(resolved):
            raise OutsideDisk(join(resolved))
        return resolved

    def _readlink(self, parts: list[str]) -> str | None:
        """The target of the symlink at `parts`, or None if it is something else or missing."""
        host = self.root.joinpath(*parts)
        try:
            if not stat.S_ISLNK(os.lstat(host).st_mode):
                return None
        except (FileNotFoundError, NotADirectoryError):
            return None
        return os.readlink(host)
