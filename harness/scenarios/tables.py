"""What a scenario file's tables may hold, and reading one table: its key path, its unknown keys
rejected with a fix-it message, each value through a check of checks.py.

`Context` is what the readers of one file share: its path (for every error), the accounts and
groups the file has defined so far, and its limits (times and boot numbers are checked against
them).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..mac.config import Limits
from ..mac.accounts import DEFAULT_ACCOUNTS, DEFAULT_GROUPS
from . import checks
from .schema import EventKind, FactKind, ScenarioError

_FILE_KEYS = ("path", "content", "content_file", "script_under_test", "directory", "owner", "group", "mode")
_EVENT_KEYS: dict[EventKind, tuple[str, ...]] = {
    EventKind.REBOOT: (), EventKind.HALT: (), EventKind.POWER_LOSS: ("restored",),
    EventKind.MACOS_UPDATE: ("to_version", "to_build", "to_kernel_release", "reboots", "removes",
                             "files", "network_up_after_s"),
    EventKind.DELIVER_FILE: _FILE_KEYS, EventKind.DELIVER_PROFILE: ("identifier", "payload"),
    EventKind.PUSH_COMMIT: ("message", "branch"), EventKind.OPERATOR_RUN: ("args",),
    EventKind.REMOVE_FILES: ("paths",)}
_COUNTS = ("count", "at_least", "at_most")
_FACT_KEYS: dict[FactKind, tuple[str, ...]] = {
    FactKind.BOOTSTRAP_DAEMON_INSTALLED: ("at_boot",),
    FactKind.BOOTSTRAP_DAEMON_NEVER_INSTALLED: (), FactKind.BOOTSTRAP_DAEMON_REMOVED: ("at_boot",),
    FactKind.PUPPET_APPLIED: (*_COUNTS, "at_boot"), FactKind.PUPPET_ENV: ("name", "value", "apply"),
    FactKind.PUPPET_FACT: ("name", "value", "apply"), FactKind.SEMAPHORE_WRITTEN: ("at_boot",),
    FactKind.SEMAPHORE_NEVER_WRITTEN: (), FactKind.REBOOTED: _COUNTS,
    FactKind.MAIL_SENT: (*_COUNTS, "to", "mentions_host", "contains", "at_boot"),
    FactKind.SCRIPT_EXITED: ("status", "success"), FactKind.CHECKOUT_CURRENT: ("branch",),
    FactKind.FILE_WRITTEN: ("path", "at_boot")}
_FACT_REQUIRED: dict[FactKind, tuple[str, ...]] = {
    FactKind.PUPPET_ENV: ("name", "value"), FactKind.PUPPET_FACT: ("name", "value"),
    FactKind.FILE_WRITTEN: ("path",)}
_KEYS: dict[str, tuple[str, ...]] = {
    "": ("scenario", "host", "start", "network", "puppet", "mdm", "broker", "events", "limits", "expect",
         "invariants"),
    "scenario": ("name", "summary", "reproduces", "applies_to", "seed"),
    "host": ("macos_version", "build_version", "kernel_release", "model", "arch", "hostname",
             "role", "autologin", "sip", "remote_login", "vault", "puppet_installed", "files", "accounts",
             "checkout", "disk_free_mb"),
    "host.checkout": ("path", "remote", "branch", "behind", "local_changes", "index_lock"),
    "host.files": _FILE_KEYS,
    "events.files": _FILE_KEYS,
    "host.accounts": ("name", "uid", "gid", "home", "shell", "gecos"),
    "start": ("how", "at_s", "args", "env", "driver"),
    "mdm": ("secure_token_after_s", "certificate_after_s", "certificate_name", "certificate_issuer"),
    "broker": ("roles", "trusted_issuer"),
    "network": ("up_after_s",),
    "puppet": ("role_model", "applies"),
    "puppet.applies": ("exit_code", "duration_s", "output", "tcc", "writes_mb"),
    "events": ("at_s", "what", *dict.fromkeys(k for keys in _EVENT_KEYS.values() for k in keys)),
    "limits": ("boots", "simulated_s", "steps", "real_s", "processes", "memory_mb"),
    "expect": ("verdict", "boots", "boots_at_most", "files", "loaded", "facts"),
    "expect.files": ("path", "present", "content", "contains", "mode", "owner", "group", "writable_by"),
    "expect.loaded": ("label", "loaded"),
    "expect.facts": ("fact", *dict.fromkeys(k for keys in _FACT_KEYS.values() for k in keys)),
    "invariants": ("off", "expect_violation"),
}
#: Keys a user may look for in the wrong table, with where what they mean really lives.
_SEEN_ELSEWHERE = {
    "network_up_after_s": "a network that comes up late after every boot is [network] up_after_s = N; the "
                          "network_up_after_s of a macos-update event is for the first boot into the new "
                          "version only",
}
_ARRAYS_OF_TABLES = ("host.files", "host.accounts", "puppet.applies", "events", "events.files",
                     "expect.files", "expect.loaded", "expect.facts")


_REQUIRED = object()


class Table:
    """One TOML table being read: its key path, and the loader that reports errors."""

    def __init__(self, loader: "Context", data: dict, path: str) -> None:
        self.loader, self.data, self.path = loader, data, path

    def at(self, key: str) -> str:
        return checks.key_path(self.path, key)

    def allow(self, known: Iterable[str], where: str, schema: str) -> "Table":
        """Rejects the first key not in `known`; `where` names the table in the message."""
        known = list(known)
        for key in self.data:
            if key not in known:
                raise self.loader.unknown_key(self.at(key), key, known, where, schema)
        return self

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, check: checks.Check, default: Any = _REQUIRED) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(key, check.expected, "nothing (the key is missing)",
                                f"add it, e.g. {checks.quoted_key(key)} = {check.example}")
            return default
        value = self.data[key]
        try:
            return check.convert(value)
        except checks.Bad as bad:
            path = self.at(key) + (f"[{bad.index}]" if bad.index is not None else "")
            raise self.loader.error(path, bad.expected or check.expected, bad.found or checks.describe(value),
                                    bad.fix or f"write it like: {checks.quoted_key(key)} = {check.example}") from None

    def value(self, key: str) -> str:
        """What the file has at `key`, described for an error message."""
        return checks.describe(self.data[key])

    def fail(self, key: str, expected: str, found: str, fix: str) -> ScenarioError:
        return self.loader.error(self.at(key), expected, found, fix)

    def table(self, key: str, schema: str) -> "Table":
        """The sub-table `key` (empty when absent), its unknown keys already rejected."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"a table [{schema}]", checks.describe(value),
                            f"write [{schema}] on a line of its own, then its keys one per line")
        return Table(self.loader, value, self.at(key)).allow(_KEYS[schema], f"[{schema}]", schema)

    def tables(self, key: str, schema: str, *, check_keys: bool = True) -> list["Table"]:
        """The entries of the array of tables `key` (none when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(key, f"an array of tables [[{schema}]]", checks.describe(value),
                            f"write [[{schema}]] (double brackets) before the keys of each entry")
        entries = [Table(self.loader, item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]
        if check_keys:
            for entry in entries:
                entry.allow(_KEYS[schema], f"[[{schema}]]", schema)
        return entries


class Context:
    """One scenario file being read: where errors point, and what it has defined so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = [account.name for account in DEFAULT_ACCOUNTS]
        self.uids = [account.uid for account in DEFAULT_ACCOUNTS]
        self.groups = [group.name for group in DEFAULT_GROUPS]
        self.limits = Limits()

    def error(self, key_path: str, expected: str, found: str, fix: str, *,
              line: int | None = None) -> ScenarioError:
        return ScenarioError(self.path, key_path, expected, found, fix, line=line)

    def unknown_key(self, key_path: str, key: str, known: list[str], where: str,
                    schema: str) -> ScenarioError:
        near = checks.closest(key, known)
        homes = [name for name, keys in _KEYS.items() if key in keys and name not in ("", schema)]
        if key in _SEEN_ELSEWHERE and schema != "events":
            fix = _SEEN_ELSEWHERE[key]
            expected = f"one of the keys of {where}: {', '.join(known)}" if known else f"no keys in {where}"
            return self.error(key_path, expected, f"an unknown key {checks.render(key)}", fix)
        kinds = [kind.value for kind, keys in {**_EVENT_KEYS, **_FACT_KEYS}.items() if key in keys]
        if schema in ("events", "expect.facts") and kinds:  # a right key of the wrong kind
            owners = " and ".join(map(checks.render, kinds)) + (" events" if schema == "events" else "")
            fix = f"{checks.render(key)} belongs to {owners}: remove it here"
        elif near:
            fix = f"did you mean {checks.render(near[0])}?"
        elif homes:
            brackets = "[[{}]]" if homes[0] in _ARRAYS_OF_TABLES else "[{}]"
            fix = f"{checks.render(key)} is a key of {brackets.format(homes[0])}: move it there"
        else:
            fix = "remove it, or correct its spelling"
        expected = f"one of the keys of {where}: {', '.join(known)}" if known else f"no keys in {where}"
        return self.error(key_path, expected, f"an unknown key {checks.render(key)}", fix)

    def name_check(self, names: list[str], kind: str) -> checks.Check:
        more = " (or one added with [[host.accounts]])" if kind == "user" else ""
        return checks.Check(f"a {kind} on the Mac: {', '.join(names)}{more}", checks.render(names[-1]),
                      checks.choice(names, "").convert)

    def before_the_end(self, table: Table, key: str, at_s: float) -> None:
        if at_s >= self.limits.simulated_s:
            raise table.fail(key, f"a time before limits.simulated_s ({self.limits.simulated_s:g} s)",
                             table.value(key), "make it earlier, or raise limits.simulated_s")
