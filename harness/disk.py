"""The Mac's persistent disk on the host: base image, path resolution, ownership table.

The disk is a host directory that every sandboxed process sees as `/`. Paths are resolved here
the way the Mac's kernel would, so a symlink on the disk can never lead a caller out of it. Inside
the namespace only uid 0 exists, so the macOS owner and group of each file are kept by the
controller in a JSON table beside the disk; modes are the real host modes.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import plistlib
import shutil
import stat
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
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


class UnknownAccount(KeyError):
    """A user or group name that the disk's /etc/passwd or /etc/group does not define."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind  # "user" or "group"
        super().__init__(name)

    def __str__(self) -> str:
        table = "/etc/passwd" if self.kind == "user" else "/etc/group"
        return (f"unknown {self.kind} {self.name!r}: not defined in the Mac's {table}; "
                f"add it to that file on the disk or pass an existing {self.kind}")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str
    gecos: str


@dataclass(frozen=True)
class Group:
    name: str
    gid: int
    members: tuple[str, ...]


_NOLOGIN = "/usr/bin/false"
DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account("nobody", -2, -2, "/var/empty", _NOLOGIN, "Unprivileged User"),
    Account("root", 0, 0, "/var/root", "/bin/sh", "System Administrator"),
    Account("daemon", 1, 1, "/var/root", _NOLOGIN, "System Services"),
    Account("_www", 70, 70, "/Library/WebServer", _NOLOGIN, "World Wide Web Server"),
    Account("_sshd", 75, 75, "/var/empty", _NOLOGIN, "sshd Privilege separation"),
    Account("_spotlight", 89, 89, "/var/empty", _NOLOGIN, "Spotlight"),
    # A fresh Mac keeps its Setup Assistant user in Directory Services only; the simulator has
    # no Directory Services, so the user lives in /etc/passwd like the system accounts.
    Account("cltbld", 501, 20, "/Users/cltbld", "/bin/bash", "cltbld"))
# As on macOS, /etc/group lists only root as a member of wheel, staff and admin; membership of
# the first user in admin lives in Directory Services on a real Mac.
DEFAULT_GROUPS: tuple[Group, ...] = (
    Group("nobody", -2, ()), Group("nogroup", -1, ()), Group("wheel", 0, ("root",)),
    Group("daemon", 1, ("root",)), Group("kmem", 2, ("root",)), Group("sys", 3, ("root",)),
    Group("tty", 4, ("root",)), Group("operator", 5, ("root",)), Group("mail", 6, ()),
    Group("bin", 7, ()), Group("everyone", 12, ()), Group("staff", 20, ("root",)),
    Group("_www", 70, ()), Group("_sshd", 75, ()), Group("admin", 80, ("root",)),
    Group("_spotlight", 89, ()))

# Directories of a fresh macOS 15, parents first: root:wheel 0755 unless in _LAYOUT_OWNERS.
_LAYOUT = (
    *(f"/{name}" for name in DISK_TOP_LEVEL), "/System/Library", "/System/Library/LaunchDaemons",
    "/Library/LaunchDaemons", "/Library/LaunchAgents", "/Library/Preferences",
    "/Library/Preferences/SystemConfiguration", "/Library/Application Support", "/Users/Shared",
    "/usr", "/usr/local", "/private/etc", "/private/tmp", "/private/var", "/private/var/root",
    "/private/var/tmp", "/private/var/log", "/private/var/run", "/private/var/db",
    "/private/var/db/com.apple.xpc.launchd", "/private/var/empty", "/private/var/folders")
_LAYOUT_OWNERS: dict[str, tuple[int, str, str]] = {
    "/Applications": (0o775, "root", "admin"), "/Users": (0o755, "root", "admin"),
    "/cores": (0o1775, "root", "admin"), "/Users/Shared": (0o1777, "root", "wheel"),
    "/private/tmp": (0o1777, "root", "wheel"), "/private/var/tmp": (0o1777, "root", "wheel"),
    "/private/var/root": (0o750, "root", "wheel"), "/private/var/run": (0o775, "root", "daemon"),
    "/private/var/empty": (0o555, "root", "sys")}

_DB_HEADER = """##
# {title} Database
#
# Note that this file is consulted directly only when the system is running
# in single-user mode.  At other times this information is provided by
# Open Directory.
#
# See the opendirectoryd(8) man page for additional information about
# Open Directory.
##
"""
_HOSTS = """##
# Host Database
#
# localhost is used to configure the loopback interface
# when the system is booting.  Do not change this entry.
##
127.0.0.1\tlocalhost
255.255.255.255\tbroadcasthost
::1             localhost
"""
_SHELLS = ("# List of acceptable shells for chpass(1).\n# Ftpd will not allow users to connect "
           "who are not using\n# one of these shells.\n\n"
           + "".join(f"/bin/{name}\n" for name in "bash csh dash ksh sh tcsh zsh".split()))
_PATHS = "/usr/local/bin\n/usr/bin\n/bin\n/usr/sbin\n/sbin\n"


def canonical(mac_path: str) -> str:
    """`mac_path` with macOS's /etc, /var and /tmp aliases resolved into /private (no trailing /)."""
    top, _, rest = mac_path[1:].partition("/")
    return f"/{DISK_TOP_SYMLINKS[top]}/{rest}".rstrip("/") if top in DISK_TOP_SYMLINKS else mac_path


def _in_host_tree(parts: list[str]) -> bool:
    """True for a path (as components) that the sandbox takes from the host, not the disk."""
    top = parts[0] if parts else ""
    if top in _HOST_TOP or top.startswith("lib"):
        return True
    return top == "usr" and parts[1:2] != ["local"]


def _is_int(text: str) -> bool:
    return text.removeprefix("-").isdecimal()


def _join(parts: list[str] | tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


def _under(key: str, top: str) -> bool:
    return top == "/" or key == top or key.startswith(top + "/")


def _home_dirs(accounts: tuple[Account, ...],
               groups: tuple[Group, ...]) -> list[tuple[str, tuple[int, str, str]]]:
    """(macOS path, (mode, owner, group)) of the home directories under /Users, parents first."""
    group_names = {group.gid: group.name for group in groups}
    homes = []
    for account in (a for a in accounts if a.home.startswith("/Users/")):
        if account.gid not in group_names:
            raise ValueError(f"account {account.name} has primary gid {account.gid}, but no group "
                             f"given to Disk.create has it; add that group to `groups`")
        owner_group = (account.name, group_names[account.gid])
        homes += [(account.home, (0o750, *owner_group)),
                  (f"{account.home}/Library", (0o700, *owner_group)),
                  (f"{account.home}/Library/Application Support", (0o755, *owner_group))]
    return homes


def _base_files(accounts: tuple[Account, ...], groups: tuple[Group, ...],
                hostname: str) -> dict[str, bytes]:
    """The files of a fresh disk, by macOS path; the hostname is where macOS keeps it."""
    users = [f"{a.name}:*:{a.uid}:{a.gid}:{a.gecos}:{a.home}:{a.shell}\n" for a in accounts]
    members = [f"{g.name}:*:{g.gid}:{','.join(g.members)}\n" for g in groups]
    local_name = hostname.split(".")[0]
    prefs = {"System": {"Network": {"HostNames": {"LocalHostName": local_name}},
                        "System": {"ComputerName": local_name, "HostName": hostname}}}
    texts = {"/private/etc/passwd": _DB_HEADER.format(title="User") + "".join(users),
             "/private/etc/group": _DB_HEADER.format(title="Group") + "".join(members),
             "/private/etc/hosts": _HOSTS, "/private/etc/shells": _SHELLS,
             "/private/etc/paths": _PATHS}
    files = {mac: text.encode() for mac, text in texts.items()}
    files["/Library/Preferences/SystemConfiguration/preferences.plist"] = plistlib.dumps(prefs)
    return files


class Disk:
    """One Mac's disk: a host directory shown as `/` to every process of that Mac."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        # Beside the disk, not on it: no process of the Mac can see or edit the table.
        self.ownership_path = self.root.parent / "ownership.json"
        if not self.root.is_dir():
            raise DiskError(errno.ENOENT, f"no Mac disk at {self.root}: expected a directory "
                            f"laid out like macOS; make one with Disk.create({str(self.root)!r})")

    @classmethod
    def create(cls, root: Path, *, accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS,
               groups: tuple[Group, ...] = DEFAULT_GROUPS,
               hostname: str = "macmini-m4-001") -> Disk:
        """Lays out a fresh macOS 15 (Apple silicon) at `root`, which must be absent or empty."""
        root = Path(os.path.abspath(root))
        if os.path.lexists(root) and (not root.is_dir() or os.listdir(root)):
            raise DiskError(errno.EEXIST, f"cannot create a Mac disk at {root}: expected an absent "
                            f"or empty directory, found existing content; remove it or pick "
                            f"another directory")
        homes = _home_dirs(accounts, groups)
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        for name, target in DISK_TOP_SYMLINKS.items():
            os.symlink(target, root / name)
        table: dict[str, dict[str, str]] = {}
        for mac in _LAYOUT:
            _make_dir(root, table, mac, *_LAYOUT_OWNERS.get(mac, (0o755, "root", "wheel")))
        for mac, mode_owner_group in homes:
            _make_dir(root, table, mac, *mode_owner_group)
        for mac, data in _base_files(accounts, groups, hostname).items():
            (root / mac.lstrip("/")).write_bytes(data)
            os.chmod(root / mac.lstrip("/"), 0o644)
        disk = cls(root)
        disk._save_table(table)
        return disk

    def host_path(self, mac_path: str, *, cwd: str = "/", follow_last: bool = True) -> Path:
        """The host file that `mac_path` names for a process inside the Mac whose cwd is `cwd`."""
        return self.root.joinpath(*self._resolve_parts(mac_path, cwd, follow_last))

    def mac_path(self, host_path: Path) -> str:
        """The macOS path of a host path under the disk root ("/" for the root itself)."""
        absolute = Path(os.path.abspath(host_path))
        if not absolute.is_relative_to(self.root):
            raise ValueError(f"{host_path} is not on the Mac's disk: expected a path under "
                             f"{self.root}")
        return _join(absolute.relative_to(self.root).parts)

    def resolve(self, mac_path: str, *, cwd: str = "/", follow_last: bool = True) -> str:
        """The canonical macOS path, symlinks resolved: "/etc/passwd" -> "/private/etc/passwd"."""
        return _join(self._resolve_parts(mac_path, cwd, follow_last))

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
            if _in_host_tree(resolved) or (not pending and not follow_last):
                continue
            target = self._readlink(resolved)
            if target is None:
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise DiskError(errno.ELOOP, f"Too many levels of symbolic links resolving "
                                f"{mac_path}: more than {MAX_SYMLINK_HOPS} hops, the last at "
                                f"{_join(resolved)}; fix the symlink loop on the disk")
            resolved.pop()
            if target.startswith("/"):
                resolved.clear()
            pending.extendleft(reversed([part for part in target.split("/") if part]))
        if _in_host_tree(resolved):
            raise OutsideDisk(_join(resolved))
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

    def account(self, name_or_uid: str | int) -> Account | None:
        """The account with that name or uid in the disk's /etc/passwd, or None."""
        for f in self._read_db("/etc/passwd", 7, numeric=(2, 3)):
            if name_or_uid in (f[0], int(f[2])):
                return Account(f[0], int(f[2]), int(f[3]), f[5], f[6], f[4])
        return None

    def group(self, name_or_gid: str | int) -> Group | None:
        """The group with that name or gid in the disk's /etc/group, or None."""
        for f in self._read_db("/etc/group", 4, numeric=(2,)):
            if name_or_gid in (f[0], int(f[2])):
                return Group(f[0], int(f[2]), tuple(m for m in f[3].split(",") if m))
        return None

    def groups(self) -> list[Group]:
        """Every group of the disk's /etc/group, in file order."""
        return [Group(f[0], int(f[2]), tuple(m for m in f[3].split(",") if m))
                for f in self._read_db("/etc/group", 4, numeric=(2,))]

    def _read_db(self, mac_path: str, n_fields: int, numeric: tuple[int, ...]) -> list[list[str]]:
        """Lines of a passwd-style file split into fields; malformed lines skipped, as libc does."""
        try:
            lines = self.host_path(mac_path).read_text(errors="replace").splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return []
        rows = [line.split(":") for line in lines if not line.startswith("#")]
        return [f for f in rows
                if len(f) == n_fields and all(_is_int(f[i]) for i in numeric)]

    def owner(self, mac_path: str, *, follow_last: bool = True) -> tuple[str, str]:
        """The macOS (owner, group) of a path: recorded, or root and the group of its parent."""
        return _effective(self._load_table(), self.resolve(mac_path, follow_last=follow_last))

    def set_owner(self, mac_path: str, owner: str | None = None, group: str | None = None, *,
                  follow_last: bool = True) -> None:
        """chown/chgrp: changes owner and/or group (None leaves it) of an existing path."""
        canon = self.resolve(mac_path, follow_last=follow_last)
        new_owner = owner and self._name("user", owner)
        new_group = group and self._name("group", group)
        if not os.path.lexists(self.host_path(canon, follow_last=False)):
            raise DiskError(errno.ENOENT, f"{mac_path}: No such file or directory (cannot change "
                            f"its owner); create it first")
        table = self._load_table()
        current = _effective(table, canon)
        # Children keep the group they were created with when their directory changes group.
        pinned = {child: _effective(table, child) for child in self._children(canon)}
        _pin(table, canon, (new_owner or current[0], new_group or current[1]))
        for child, owner_group in pinned.items():
            _pin(table, child, owner_group)
        self._save_table(table)

    def record_created(self, mac_path: str, owner: str) -> None:
        """Records a path just created by a process running as `owner` (group from its parent)."""
        canon = self.resolve(mac_path, follow_last=False)
        table = self._load_table()
        _pin(table, canon, (self._name("user", owner), _inherited_group(table, canon)))
        self._save_table(table)

    def forget(self, mac_path: str) -> None:
        """Drops the entries of a removed path and of everything that was under it."""
        canon = self.resolve(mac_path, follow_last=False)
        table = self._load_table()
        self._save_table({k: v for k, v in table.items() if not _under(k, canon)})

    def rename(self, old: str, new: str) -> None:
        """Moves the entries of `old` and everything under it to `new` (call after the rename)."""
        canon_old = self.resolve(old, follow_last=False)
        canon_new = self.resolve(new, follow_last=False)
        if canon_old == canon_new:
            return
        table = self._load_table()
        moved_owner_group = _effective(table, canon_old)
        kept = {k: v for k, v in table.items()
                if not _under(k, canon_old) and not _under(k, canon_new)}
        for key, value in table.items():
            if key != canon_old and _under(key, canon_old):
                kept[canon_new + key[len(canon_old):]] = value
        _pin(kept, canon_new, moved_owner_group)  # rename(2) never changes a file's group
        self._save_table(kept)

    def _name(self, kind: str, name: str) -> str:
        """The name of a user or group given by name or number; UnknownAccount if undefined."""
        key = int(name) if _is_int(name) else name
        entry = self.account(key) if kind == "user" else self.group(key)
        if entry is None:
            raise UnknownAccount(name, kind)
        return entry.name

    def _children(self, canon: str) -> list[str]:
        host = self.host_path(canon, follow_last=False)
        if not host.is_dir() or host.is_symlink():
            return []
        prefix = "" if canon == "/" else canon
        names = [n for n in sorted(os.listdir(host)) if not _in_host_tree([n])]
        return [f"{prefix}/{name}" for name in names]

    def _load_table(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads(self.ownership_path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.ownership_path}:{error.lineno}: the ownership table is not "
                             f"valid JSON ({error.msg}); restore it or recreate the disk") from None

    def _save_table(self, table: dict[str, dict[str, str]]) -> None:
        # Temp file + rename: a crash of the controller leaves the old table or the new one.
        fd, temp = tempfile.mkstemp(prefix=".ownership.", dir=self.ownership_path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(sorted(table.items())), handle, indent=1)
                handle.write("\n")
            os.replace(temp, self.ownership_path)
        except BaseException:
            os.unlink(temp)
            raise

    def add_file(self, mac_path: str, content: bytes | str, *, owner: str = "root",
                 group: str = "wheel", mode: int = 0o644, make_parents: bool = True,
                 atomic: bool = False) -> None:
        """Puts a file on the disk (replacing one there); missing parents become root:wheel 0755.
        `atomic`: written under a temporary name in the same directory, then renamed over the
        path, as Puppet's file resource does: a power cut never finds it half written."""
        data = content.encode() if isinstance(content, str) else content

        def write(host: Path) -> None:
            target = host.with_name(f".{host.name}.tmp") if atomic else host
            target.write_bytes(data)
            os.chmod(target, mode)
            if atomic:
                os.replace(target, host)
        self._add(mac_path, owner, group, write, make_parents=make_parents)

    def add_dir(self, mac_path: str, *, owner: str = "root", group: str = "wheel",
                mode: int = 0o755) -> None:
        """Makes a directory (and missing parents, root:wheel 0755); an existing one is kept."""
        def make(host: Path) -> None:
            host.mkdir(exist_ok=True)
            os.chmod(host, mode)
        self._add(mac_path, owner, group, make)

    def add_symlink(self, mac_path: str, target: str, *, owner: str = "root",
                    group: str = "wheel") -> None:
        """Makes a symlink at `mac_path` pointing to `target`, stored exactly as given."""
        self._add(mac_path, owner, group, lambda host: os.symlink(target, host), follow_last=False)

    def _add(self, mac_path: str, owner: str, group: str, make: Callable[[Path], None], *,
             make_parents: bool = True, follow_last: bool = True) -> None:
        """Makes one entry with `make(host_path)` once names and parents are fine, then owns it."""
        self._name("user", owner), self._name("group", group)  # fail before writing anything
        host = self._prepare(mac_path, make_parents, follow_last=follow_last)
        try:
            make(host)
        except FileExistsError:
            raise DiskError(errno.EEXIST, f"cannot add {mac_path}: {self.mac_path(host)} already "
                            f"exists as something else; remove it first") from None
        self.set_owner(self.mac_path(host), owner, group, follow_last=False)

    def _prepare(self, mac_path: str, make_parents: bool, *, follow_last: bool) -> Path:
        """The host path for a new entry, after creating or checking its parent directories."""
        parts = self._resolve_parts(mac_path, "/", follow_last)
        table = self._load_table()
        for depth in range(1, len(parts)):
            prefix = parts[:depth]
            host = self.root.joinpath(*prefix)
            if _in_host_tree(prefix):
                continue
            if not os.path.lexists(host) and make_parents:
                host.mkdir()
                os.chmod(host, 0o755)
                _pin(table, _join(prefix), ("root", "wheel"))
            elif not host.is_dir():
                code = errno.ENOTDIR if os.path.lexists(host) else errno.ENOENT
                raise DiskError(code, f"cannot add {mac_path}: {_join(prefix)} is "
                                f"{'not a directory' if code == errno.ENOTDIR else 'missing'}; "
                                f"expected a directory (pass make_parents=True or fix the path)")
        self._save_table(table)
        return self.root.joinpath(*parts)

    def empty_dir(self, mac_path: str) -> list[str]:
        """Removes everything inside a directory (not the directory); returns what went, sorted."""
        canon = self.resolve(mac_path)
        host = self.host_path(canon)
        if not host.is_dir():
            code = errno.ENOTDIR if os.path.lexists(host) else errno.ENOENT
            raise DiskError(code, f"cannot empty {mac_path} ({canon}): expected a directory, "
                            f"found {'something else' if code == errno.ENOTDIR else 'nothing'}")
        removed = [mac for mac, _, _ in self._entries(canon)]
        for name in sorted(os.listdir(host)):
            child = host / name
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        table = self._load_table()
        self._save_table({k: v for k, v in table.items() if k == canon or not _under(k, canon)})
        return removed

    def snapshot(self) -> dict[str, tuple]:
        """Every path on the disk -> (kind, mode, size, sha256, owner, group), sorted by path.

        Kinds: 'f' file, 'd' directory, 'l' symlink (hash of its target), 'o' other (fifo,
        socket; never opened). Directory sizes are 0 because host filesystems disagree on them.
        """
        table = self._load_table()
        entries = [("/", self.root, os.lstat(self.root))] + self._entries("/")
        result = {}
        for mac, host, st in entries:
            kind, size, digest = _describe(host, st)
            result[mac] = (kind, stat.S_IMODE(st.st_mode), size, digest, *_effective(table, mac))
        return result

    def tree(self, mac_path: str = "/") -> list[str]:
        """Everything under `mac_path`, sorted: dirs end in "/", symlinks show "-> target"."""
        lines = []
        for mac, host, st in self._entries(self.resolve(mac_path)):
            if stat.S_ISLNK(st.st_mode):
                lines.append(f"{mac} -> {os.readlink(host)}")
            else:
                lines.append(mac + "/" if stat.S_ISDIR(st.st_mode) else mac)
        return lines

    def _entries(self, canon: str) -> list[tuple[str, Path, os.stat_result]]:
        """(macOS path, host path, lstat) of everything under a canonical dir, sorted by path."""
        start = [part for part in canon.split("/") if part]
        if not self.root.joinpath(*start).is_dir():
            return []
        found, stack = [], [start]
        while stack:
            parts = stack.pop()
            for name in sorted(os.listdir(self.root.joinpath(*parts))):
                child = [*parts, name]
                host = self.root.joinpath(*child)
                st = os.lstat(host)
                if stat.S_ISDIR(st.st_mode) and (child == ["usr"] or not _in_host_tree(child)):
                    stack.append(child)  # /usr is the host's, but holds the disk's /usr/local
                if not _in_host_tree(child):
                    found.append((_join(child), host, st))
        return sorted(found, key=lambda entry: entry[0])


def _describe(host: Path, st: os.stat_result) -> tuple[str, int, str]:
    """(kind, size, sha256) of one entry for a snapshot."""
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(host).encode()
        return "l", len(target), hashlib.sha256(target).hexdigest()
    if stat.S_ISDIR(st.st_mode):
        return "d", 0, ""
    if stat.S_ISREG(st.st_mode):
        return "f", st.st_size, hashlib.sha256(host.read_bytes()).hexdigest()
    return "o", 0, ""


def _inherited_group(table: dict[str, dict[str, str]], canon: str) -> str:
    """The group a new entry at `canon` gets: its parent directory's (BSD semantics)."""
    parts = [part for part in canon.split("/") if part]
    for depth in range(len(parts) - 1, -1, -1):
        parent = parts[:depth]
        if parent == ["usr"]:
            return "wheel"  # the host's /usr reads as root:wheel, like on a Mac
        entry = table.get(_join(parent))
        if entry is not None:
            return entry["group"]
    return "wheel"


def _effective(table: dict[str, dict[str, str]], canon: str) -> tuple[str, str]:
    entry = table.get(canon)
    if entry is not None:
        return entry["owner"], entry["group"]
    return "root", _inherited_group(table, canon)


def _pin(table: dict[str, dict[str, str]], canon: str, owner_group: tuple[str, str]) -> None:
    """Sets the entry for `canon`, leaving none when it equals what it would inherit."""
    if owner_group == ("root", _inherited_group(table, canon)):
        table.pop(canon, None)
    else:
        table[canon] = {"owner": owner_group[0], "group": owner_group[1]}


def _make_dir(root: Path, table: dict, mac: str, mode: int, owner: str, group: str) -> None:
    host = root / mac.lstrip("/")
    host.mkdir()
    os.chmod(host, mode)
    _pin(table, mac, (owner, group))

