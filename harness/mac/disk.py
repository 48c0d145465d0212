"""The Mac's persistent disk on the host: a fresh macOS layout, and what the controller puts on it.

The disk is a host directory that every sandboxed process sees as `/` (paths.py resolves paths
on it), a tmpfs of the Mac's capacity where the host allows (confine.py); its accounts are in its
own /etc files (accounts.py); the macOS owner and group of each path are in a table beside it
(ownership.py), outside that capacity.
"""
from __future__ import annotations

import errno
import hashlib
import os
import plistlib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from .accounts import DEFAULT_ACCOUNTS, DEFAULT_GROUPS, Account, Accounts, Group
from .confine import Volume
from .ownership import Ownership, effective, pin
from .paths import DISK_TOP_LEVEL, DISK_TOP_SYMLINKS, DiskError, DiskPaths, in_host_tree, join, under

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


class Disk(DiskPaths):
    """One Mac's disk: a host directory shown as `/` to every process of that Mac."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        if not self.root.is_dir():
            raise DiskError(errno.ENOENT, f"no Mac disk at {self.root}: expected a directory "
                            f"laid out like macOS; make one with Disk.create({str(self.root)!r})")
        self.accounts = Accounts(self)
        # Beside the disk, not on it: no process of the Mac can see or edit the table.
        self.ownership = Ownership(self, self.accounts, self.root.parent / "ownership.json")

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
        Volume.mount(root)  # a tmpfs, sized when its Mac first boots (confine.py); else a folder
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
        disk.ownership.save(table)
        return disk

    def add_file(self, mac_path: str, content: bytes | str, *, owner: str = "root",
                 group: str = "wheel", mode: int = 0o644, make_parents: bool = True,
                 atomic: bool = False) -> None:
        """Puts a file on the disk (replacing one there); missing parents become root:wheel 0755.
        `atomic`: written under a temporary name in the same directory, then renamed over the
        path, as Puppet's file resource does: a power cut never finds it half written."""
        data = content.encode() if isinstance(content, str) else content

        def write(host: Path) -> None:
            target = host.with_name(f".{host.name}.tmp") if atomic else host
            try:
                target.write_bytes(data)
            except OSError:
                if atomic:  # a full disk (confine.py): the old file stays, the partial one goes
                    target.unlink(missing_ok=True)
                raise
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
        self.accounts.name("user", owner), self.accounts.name("group", group)  # fail before writing anything
        host = self._prepare(mac_path, make_parents, follow_last=follow_last)
        try:
            make(host)
        except FileExistsError:
            raise DiskError(errno.EEXIST, f"cannot add {mac_path}: {self.mac_path(host)} already "
                            f"exists as something else; remove it first") from None
        self.ownership.set_owner(self.mac_path(host), owner, group, follow_last=False)

    def _prepare(self, mac_path: str, make_parents: bool, *, follow_last: bool) -> Path:
        """The host path for a new entry, after creating or checking its parent directories."""
        parts = self._resolve_parts(mac_path, "/", follow_last)
        table = self.ownership.load()
        for depth in range(1, len(parts)):
            prefix = parts[:depth]
            host = self.root.joinpath(*prefix)
            if in_host_tree(prefix):
                continue
            if not os.path.lexists(host) and make_parents:
                host.mkdir()
                os.chmod(host, 0o755)
                pin(table, join(prefix), ("root", "wheel"))
            elif not host.is_dir():
                code = errno.ENOTDIR if os.path.lexists(host) else errno.ENOENT
                raise DiskError(code, f"cannot add {mac_path}: {join(prefix)} is "
                                f"{'not a directory' if code == errno.ENOTDIR else 'missing'}; "
                                f"expected a directory (pass make_parents=True or fix the path)")
        self.ownership.save(table)
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
        table = self.ownership.load()
        self.ownership.save({k: v for k, v in table.items() if k == canon or not under(k, canon)})
        return removed

    def snapshot(self) -> dict[str, tuple]:
        """Every path on the disk -> (kind, mode, size, sha256, owner, group), sorted by path.

        Kinds: 'f' file, 'd' directory, 'l' symlink (hash of its target), 'o' other (fifo,
        socket; never opened). Directory sizes are 0 because host filesystems disagree on them.
        """
        table = self.ownership.load()
        entries = [("/", self.root, os.lstat(self.root))] + self._entries("/")
        result = {}
        for mac, host, st in entries:
            kind, size, digest = _describe(host, st)
            result[mac] = (kind, stat.S_IMODE(st.st_mode), size, digest, *effective(table, mac))
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
                if stat.S_ISDIR(st.st_mode) and (child == ["usr"] or not in_host_tree(child)):
                    stack.append(child)  # /usr is the host's, but holds the disk's /usr/local
                if not in_host_tree(child):
                    found.append((join(child), host, st))
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


def _make_dir(root: Path, table: dict, mac: str, mode: int, owner: str, group: str) -> None:
    host = root / mac.lstrip("/")
    host.mkdir()
    os.chmod(host, mode)
    pin(table, mac, (owner, group))
