"""The macOS owner and group of every path of the Mac's disk, kept beside it in a JSON table.

Inside the sandbox only uid 0 exists, so owners and groups are kept by the controller: an entry
per path whose owner and group differ from what it would inherit (root, and its parent
directory's group: BSD semantics, macos-behaviour.md §2.2). Modes are the real host modes.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

from .accounts import Accounts
from .paths import DiskError, DiskPaths, in_host_tree, join, under


class Ownership:
    """The ownership table of one disk (`ownership.json` beside it: no process of the Mac can
    see or edit it)."""

    def __init__(self, paths: DiskPaths, accounts: Accounts, table_path: Path) -> None:
        self._paths = paths
        self._accounts = accounts
        self.table_path = table_path

    def owner(self, mac_path: str, *, follow_last: bool = True) -> tuple[str, str]:
        """The macOS (owner, group) of a path: recorded, or root and the group of its parent."""
        return effective(self.load(), self._paths.resolve(mac_path, follow_last=follow_last))

    def set_owner(self, mac_path: str, owner: str | None = None, group: str | None = None, *,
                  follow_last: bool = True) -> None:
        """chown/chgrp: changes owner and/or group (None leaves it) of an existing path."""
        canon = self._paths.resolve(mac_path, follow_last=follow_last)
        new_owner = owner and self._accounts.name("user", owner)
        new_group = group and self._accounts.name("group", group)
        if not os.path.lexists(self._paths.host_path(canon, follow_last=False)):
            raise DiskError(errno.ENOENT, f"{mac_path}: No such file or directory (cannot change "
                            f"its owner); create it first")
        table = self.load()
        current = effective(table, canon)
        # Children keep the group they were created with when their directory changes group.
        pinned = {child: effective(table, child) for child in self._children(canon)}
        pin(table, canon, (new_owner or current[0], new_group or current[1]))
        for child, owner_group in pinned.items():
            pin(table, child, owner_group)
        self.save(table)

    def record_created(self, mac_path: str, owner: str) -> None:
        """Records a path just created by a process running as `owner` (group from its parent)."""
        canon = self._paths.resolve(mac_path, follow_last=False)
        table = self.load()
        pin(table, canon, (self._accounts.name("user", owner), inherited_group(table, canon)))
        self.save(table)

    def forget(self, mac_path: str) -> None:
        """Drops the entries of a removed path and of everything that was under it."""
        canon = self._paths.resolve(mac_path, follow_last=False)
        table = self.load()
        self.save({k: v for k, v in table.items() if not under(k, canon)})

    def rename(self, old: str, new: str) -> None:
        """Moves the entries of `old` and everything under it to `new` (call after the rename)."""
        canon_old = self._paths.resolve(old, follow_last=False)
        canon_new = self._paths.resolve(new, follow_last=False)
        if canon_old == canon_new:
            return
        table = self.load()
        moved_owner_group = effective(table, canon_old)
        kept = {k: v for k, v in table.items()
                if not under(k, canon_old) and not under(k, canon_new)}
        for key, value in table.items():
            if key != canon_old and under(key, canon_old):
                kept[canon_new + key[len(canon_old):]] = value
        pin(kept, canon_new, moved_owner_group)  # rename(2) never changes a file's group
        self.save(kept)

    def _children(self, canon: str) -> list[str]:
        host = self._paths.host_path(canon, follow_last=False)
        if not host.is_dir() or host.is_symlink():
            return []
        prefix = "" if canon == "/" else canon
        names = [n for n in sorted(os.listdir(host)) if not in_host_tree([n])]
        return [f"{prefix}/{name}" for name in names]

    def load(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads(self.table_path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.table_path}:{error.lineno}: the ownership table is not "
                             f"valid JSON ({error.msg}); restore it or recreate the disk") from None

    def save(self, table: dict[str, dict[str, str]]) -> None:
        # Temp file + rename: a crash of the controller leaves the old table or the new one.
        fd, temp = tempfile.mkstemp(prefix=".ownership.", dir=self.table_path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(sorted(table.items())), handle, indent=1)
                handle.write("\n")
            os.replace(temp, self.table_path)
        except BaseException:
            os.unlink(temp)
            raise

def inherited_group(table: dict[str, dict[str, str]], canon: str) -> str:
    """The group a new entry at `canon` gets: its parent directory's (BSD semantics)."""
    parts = [part for part in canon.split("/") if part]
    for depth in range(len(parts) - 1, -1, -1):
        parent = parts[:depth]
        if parent == ["usr"]:
            return "wheel"  # the host's /usr reads as root:wheel, like on a Mac
        entry = table.get(join(parent))
        if entry is not None:
            return entry["group"]
    return "wheel"


def effective(table: dict[str, dict[str, str]], canon: str) -> tuple[str, str]:
    entry = table.get(canon)
    if entry is not None:
        return entry["owner"], entry["group"]
    return "root", inherited_group(table, canon)


def pin(table: dict[str, dict[str, str]], canon: str, owner_group: tuple[str, str]) -> None:
    """Sets the entry for `canon`, leaving none when it equals what it would inherit."""
    if owner_group == ("root", inherited_group(table, canon)):
        table.pop(canon, None)
    else:
        table[canon] = {"owner": owner_group[0], "group": owner_group[1]}
