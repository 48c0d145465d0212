"""The Mac's accounts: users and groups as its /etc/passwd and /etc/group define them.

macOS keeps accounts in Directory Services; a fresh Mac's /etc/passwd and /etc/group list the
system accounts, and the simulator keeps its Setup Assistant user (cltbld) there too, having no
Directory Services (macos-behaviour.md §10.5).
"""
from __future__ import annotations

from dataclasses import dataclass

from .paths import DiskPaths


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

def is_int(text: str) -> bool:
    return text.removeprefix("-").isdecimal()




class Accounts:
    """The users and groups of one disk, read from its files at each question."""

    def __init__(self, paths: DiskPaths) -> None:
        self._paths = paths

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
            lines = self._paths.host_path(mac_path).read_text(errors="replace").splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return []
        rows = [line.split(":") for line in lines if not line.startswith("#")]
        return [f for f in rows
                if len(f) == n_fields and all(is_int(f[i]) for i in numeric)]

    def name(self, kind: str, name: str) -> str:
        """The name of a user or group given by name or number; UnknownAccount if undefined."""
        key = int(name) if is_int(name) else name
        entry = self.account(key) if kind == "user" else self.group(key)
        if entry is None:
            raise UnknownAccount(name, kind)
        return entry.name
