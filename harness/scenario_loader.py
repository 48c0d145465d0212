"""The strict loader of scenario files: TOML in, the frozen dataclasses of `harness/scenario.py`
out, or one `ScenarioError` for the first problem found.

Tables are checked in the order of docs/scenarios.md, each table's unknown keys before its
values; each value goes through a check of `harness/scenario_checks.py`.
"""
from __future__ import annotations

import datetime
import plistlib
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import scenario_checks as checks
from .disk import DEFAULT_ACCOUNTS, DEFAULT_GROUPS, Account, canonical
from .machine import Limits, Verdict
from .scenario import (_EVENT_CLASSES, _WIPED_AT_BOOT, DARWIN_MAJOR, KNOWN_INVARIANTS, DeliverFile,
                       DeliverProfile, EventKind, Expect, ExpectFile, ExpectLoaded, Fact, FactKind,
                       FileSpec, Halt, Host, Invariants, MacosUpdate, NetworkPlan, OperatorRun,
                       PowerLoss, PuppetApply, PuppetPlan, PushCommit, RoleModel, Scenario,
                       ScenarioError, ScenarioEvent, Start, StartHow, Tcc, darwin_release)


# -- the keys of each table, by schema name --------------------------------------------------

_FILE_KEYS = ("path", "content", "content_file", "script_under_test", "owner", "group", "mode")
_EVENT_KEYS: dict[EventKind, tuple[str, ...]] = {
    EventKind.REBOOT: (), EventKind.HALT: (), EventKind.POWER_LOSS: ("restored",),
    EventKind.MACOS_UPDATE: ("to_version", "to_build", "to_kernel_release", "reboots", "removes",
                             "files", "network_up_after_s"),
    EventKind.DELIVER_FILE: _FILE_KEYS, EventKind.DELIVER_PROFILE: ("identifier", "payload"),
    EventKind.PUSH_COMMIT: ("message", "branch"), EventKind.OPERATOR_RUN: ("args",)}
_COUNTS = ("count", "at_least", "at_most")
_FACT_KEYS: dict[FactKind, tuple[str, ...]] = {
    FactKind.BOOTSTRAP_DAEMON_INSTALLED: ("at_boot",),
    FactKind.BOOTSTRAP_DAEMON_NEVER_INSTALLED: (), FactKind.BOOTSTRAP_DAEMON_REMOVED: ("at_boot",),
    FactKind.PUPPET_APPLIED: (*_COUNTS, "at_boot"), FactKind.PUPPET_ENV: ("name", "value"),
    FactKind.PUPPET_FACT: ("name", "value"), FactKind.SEMAPHORE_WRITTEN: ("at_boot",),
    FactKind.SEMAPHORE_NEVER_WRITTEN: (), FactKind.REBOOTED: _COUNTS,
    FactKind.MAIL_SENT: (*_COUNTS, "contains", "at_boot"),
    FactKind.SCRIPT_EXITED: ("status",), FactKind.CHECKOUT_CURRENT: ("branch",)}
_FACT_REQUIRED: dict[FactKind, tuple[str, ...]] = {
    FactKind.PUPPET_ENV: ("name", "value"), FactKind.PUPPET_FACT: ("name", "value"),
    FactKind.SCRIPT_EXITED: ("status",)}
_KEYS: dict[str, tuple[str, ...]] = {
    "": ("scenario", "host", "start", "network", "puppet", "events", "limits", "expect",
         "invariants"),
    "scenario": ("name", "summary", "reproduces", "seed"),
    "host": ("macos_version", "build_version", "kernel_release", "model", "arch", "hostname",
             "role", "autologin", "sip", "remote_login", "vault", "puppet_installed", "files", "accounts"),
    "host.files": _FILE_KEYS,
    "events.files": _FILE_KEYS,
    "host.accounts": ("name", "uid", "gid", "home", "shell", "gecos"),
    "start": ("how", "at_s", "args"),
    "network": ("up_after_s",),
    "puppet": ("role_model", "applies"),
    "puppet.applies": ("exit_code", "duration_s", "output", "tcc"),
    "events": ("at_s", "what", *dict.fromkeys(k for keys in _EVENT_KEYS.values() for k in keys)),
    "limits": ("boots", "simulated_s", "steps", "real_s"),
    "expect": ("verdict", "boots", "boots_at_most", "files", "loaded", "facts"),
    "expect.files": ("path", "present", "content", "contains", "mode", "owner", "group"),
    "expect.loaded": ("label", "loaded"),
    "expect.facts": ("fact", *dict.fromkeys(k for keys in _FACT_KEYS.values() for k in keys)),
    "invariants": ("off", "expect_violation"),
}
_ARRAYS_OF_TABLES = ("host.files", "host.accounts", "puppet.applies", "events", "events.files",
                     "expect.files", "expect.loaded", "expect.facts")


# -- reading tables --------------------------------------------------------------------------

_REQUIRED = object()


class _Table:
    """One TOML table being read: its key path, and the loader that reports errors."""

    def __init__(self, loader: "_Loader", data: dict, path: str) -> None:
        self.loader, self.data, self.path = loader, data, path

    def at(self, key: str) -> str:
        return checks.key_path(self.path, key)

    def allow(self, known: Iterable[str], where: str, schema: str) -> "_Table":
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

    def table(self, key: str, schema: str) -> "_Table":
        """The sub-table `key` (empty when absent), its unknown keys already rejected."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"a table [{schema}]", checks.describe(value),
                            f"write [{schema}] on a line of its own, then its keys one per line")
        return _Table(self.loader, value, self.at(key)).allow(_KEYS[schema], f"[{schema}]", schema)

    def tables(self, key: str, schema: str, *, check_keys: bool = True) -> list["_Table"]:
        """The entries of the array of tables `key` (none when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(key, f"an array of tables [[{schema}]]", checks.describe(value),
                            f"write [[{schema}]] (double brackets) before the keys of each entry")
        entries = [_Table(self.loader, item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]
        if check_keys:
            for entry in entries:
                entry.allow(_KEYS[schema], f"[[{schema}]]", schema)
        return entries


class _Loader:
    """Reads one scenario file into a Scenario, raising its first problem."""

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

    # -- the file --------------------------------------------------------------------------

    def read(self) -> dict:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise self.error("", "a scenario file (TOML)", "no such file",
                             "check the path; scenarios live in scenarios/NAME.toml") from None
        except IsADirectoryError:
            raise self.error("", "a scenario file (TOML)", "a directory",
                             "give a .toml file, or pass the directory to load_scenarios") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw[:bad.start].count(b"\n") + 1
            raise self.error("", "UTF-8 text", f"the byte 0x{raw[bad.start]:02x}, which is not UTF-8",
                             f"save the file as UTF-8 (line {line})", line=line) from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as bad:
            raise self._syntax_error(str(bad), text) from None

    def _syntax_error(self, message: str, text: str) -> ScenarioError:
        where = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        reason = message[:where.start()].strip() if where else message
        if not where:  # "(at end of document)"
            line = text.count("\n") + 1
            return self.error("", "valid TOML", f"{reason.removesuffix('(at end of document)').strip()} "
                              "at the end of the file", "complete the last line", line=line)
        line, column = int(where[1]), int(where[2])
        source = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
        return self.error("", "valid TOML", f"`{source.strip()}` (column {column}: {reason})",
                          "correct the TOML on that line (strings need quotes; see "
                          "docs/scenarios.md)", line=line)

    def scenario(self) -> Scenario:
        root = _Table(self, self.read(), "").allow(_KEYS[""], "a scenario file", "")
        if not root.has("scenario"):
            raise self.error("scenario", "a table [scenario] with at least a summary",
                             "nothing (the table is missing)",
                             'start the file with [scenario] and summary = "what this checks"')
        about = root.table("scenario", "scenario")
        name = about.get("name", checks.text("a name of lowercase letters, digits and dashes",
                                       '"fresh-m4-tcc-reboot"', r"[a-z0-9][a-z0-9-]*"), self.path.stem)
        summary = about.get("summary", checks.ONE_LINE)
        reproduces = about.get("reproduces", checks.ONE_LINE, None)
        seed = about.get("seed", checks.integer(0, 2**64 - 1, "7"), 0)
        self.limits = self.read_limits(root.table("limits", "limits"))
        host = self.host(root.table("host", "host"))
        start = self.start(root.table("start", "start"))
        network = NetworkPlan(root.table("network", "network").get("up_after_s", checks.seconds(example="30"), 0.0))
        puppet = self.puppet(root.table("puppet", "puppet"))
        events = self.events(root, host)
        expect = self.expect(root.table("expect", "expect"), start)
        invariants = self.invariants(root.table("invariants", "invariants"))
        return Scenario(self.path, name, summary, reproduces, seed, host, start, network, puppet,
                        events, self.limits, expect, invariants)

    # -- sections --------------------------------------------------------------------------

    def read_limits(self, table: _Table) -> Limits:
        default = Limits()
        return Limits(boots=table.get("boots", checks.integer(1, 1000, "12"), default.boots),
                      simulated_s=table.get("simulated_s", checks.seconds(positive=True, example="259200"),
                                            default.simulated_s),
                      steps=table.get("steps", checks.integer(1, None, "100000"), default.steps),
                      real_s=table.get("real_s", checks.seconds(positive=True, example="300"), default.real_s))

    def host(self, table: _Table) -> Host:
        version = table.get("macos_version", checks.VERSION, Host.macos_version)
        build = table.get("build_version", checks.BUILD, None)
        if build is None and table.has("macos_version"):
            raise table.fail("build_version", checks.BUILD.expected + " (required with host.macos_version)",
                             "nothing (the key is missing)", 'add the build of that version, e.g. '
                             'build_version = "24D70" (`sw_vers -buildVersion` on such a host)')
        kernel = table.get("kernel_release", checks.KERNEL, None) or self.kernel_of(table, "macos_version", version)
        scalars = dict(
            model=table.get("model", checks.text('a Mac model identifier like "Mac16,10"', '"Mac16,10"',
                                           r"[A-Za-z]+\d+,\d+"), Host.model),
            arch=table.get("arch", checks.choice(("arm64", "x86_64"), '"arm64"'), Host.arch),
            hostname=table.get("hostname", checks.text("a host name (letters, digits, dashes, dots)",
                                                 '"macmini-m4-001.test.releng.mdc1.mozilla.com"',
                                                 r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?"), Host.hostname),
            role=table.get("role", checks.text("a puppet role name (lowercase letters, digits, _)",
                                         '"gecko_t_osx_1500_m4"', r"[a-z][a-z0-9_]*"), None),
            autologin=table.get("autologin", checks.boolean(), True), sip=table.get("sip", checks.boolean(), True),
            remote_login=table.get("remote_login", checks.boolean(), True), vault=table.get("vault", checks.boolean(), True),
            puppet_installed=table.get("puppet_installed", checks.boolean(), True))
        # Accounts first: files may be owned by them.
        accounts = tuple(self.account(entry) for entry in table.tables("accounts", "host.accounts"))
        taken = {canonical("/etc/puppet_role"): "host.role"} if scalars["role"] else {}
        if scalars["vault"]:
            taken[canonical("/var/root/vault.yaml")] = "host.vault"
        return Host(version, build or Host.build_version, kernel, **scalars,
                    files=self.files(table.tables("files", "host.files"), taken, at_start=True),
                    accounts=accounts)

    def files(self, entries: list[_Table], taken: dict[str, str], *, at_start: bool) -> tuple[FileSpec, ...]:
        """The files of [[host.files]] or of an update; `taken` maps the paths already set to
        the key that sets them."""
        files = []
        for entry in entries:
            spec = self.file_spec(entry, at_start=at_start)
            alias = canonical(spec.path)
            if alias in taken:
                raise entry.fail("path", f"a path not already set by {taken[alias]}", entry.value("path"),
                                 f"remove this entry or {taken[alias]}; one of them is enough")
            taken[alias] = entry.at("path")
            files.append(spec)
        return tuple(files)

    def kernel_of(self, table: _Table, key: str, version: str) -> str:
        release = darwin_release(version)
        if release is None:
            majors = ", ".join(str(major) for major in DARWIN_MAJOR)
            raise table.fail(key, f"a macOS major version macsim knows ({majors})", table.value(key),
                             "use a known version, or give its Darwin release with kernel_release "
                             "(host) or to_kernel_release (macos-update)")
        return release

    def account(self, table: _Table) -> Account:
        name = table.get("name", checks.text("a user name (lowercase letters, digits, _ . -)", '"worker"',
                                       r"[a-z_][a-z0-9_.-]*"))
        if name in self.users:
            raise table.fail("name", "a user not already on the Mac", table.value("name"),
                             f"choose another name; these exist: {', '.join(self.users)}")
        uid = table.get("uid", checks.integer(0, 2**31 - 1, "502"))
        if uid in self.uids:
            raise table.fail("uid", "a uid not already used on the Mac", table.value("uid"),
                             f"choose one not in {', '.join(map(str, self.uids))}, e.g. {max(self.uids) + 1}")
        gids = {group.gid: group.name for group in DEFAULT_GROUPS}
        gid = table.get("gid", checks.Check("the gid of a group on the Mac: " + ", ".join(
            f"{gid} ({name})" for gid, name in gids.items()), "20", checks.choice(gids, "").convert))
        self.users.append(name)
        self.uids.append(uid)
        return Account(name, uid, gid, table.get("home", checks.mac_path(example=f'"/Users/{name}"')),
                       table.get("shell", checks.mac_path(on_disk=False, example='"/bin/bash"'), "/bin/bash"),
                       table.get("gecos", checks.text(empty=True), name))

    def file_spec(self, table: _Table, *, at_start: bool) -> FileSpec:
        path = table.get("path", checks.mac_path())
        if at_start and any(path == top or path.startswith(top + "/") for top in _WIPED_AT_BOOT):
            raise table.fail("path", "a path that survives boot (macOS empties /tmp and /var/run "
                             "at every boot, the first one included)", table.value("path"),
                             'deliver it with an event instead: what = "deliver-file"')
        sources = [key for key in ("content", "content_file", "script_under_test") if table.has(key)]
        if len(sources) > 1:
            raise table.fail(sources[1], f"one of content, content_file and script_under_test, not "
                             f"{' and '.join(sources)}", "both", "keep one of them")
        content = table.get("content", checks.text("a string", '"text\\n"', empty=True, multiline=True), "")
        data = self.content_file(table) if table.has("content_file") else content.encode()
        return FileSpec(path, data, table.get("owner", self.name_check(self.users, "user"), "root"),
                        table.get("group", self.name_check(self.groups, "group"), "wheel"),
                        table.get("mode", checks.mode(), 0o644),
                        table.get("script_under_test", checks.boolean(), False))

    def content_file(self, table: _Table) -> bytes:
        relative = table.get("content_file", checks.text("a path relative to the scenario file",
                                                   '"files/vault.yaml"'))
        if relative.startswith("/"):
            raise table.fail("content_file", "a path relative to the scenario file", table.value("content_file"),
                             "write it relative to the scenario file's folder, so the scenario "
                             "works from any checkout")
        source = self.path.parent / relative
        if not source.is_file():
            what = "a directory" if source.is_dir() else "no such file"
            raise table.fail("content_file", "an existing file (relative to the scenario file)",
                             f"{what}: {source}", "create that file, or correct the path "
                             f"(it is relative to {self.path.parent})")
        return source.read_bytes()

    def name_check(self, names: list[str], kind: str) -> checks.Check:
        more = " (or one added with [[host.accounts]])" if kind == "user" else ""
        return checks.Check(f"a {kind} on the Mac: {', '.join(names)}{more}", checks.render(names[-1]),
                      checks.choice(names, "").convert)

    def start(self, table: _Table) -> Start:
        how = table.get("how", checks.choice(StartHow, '"mdm-script-job"'), StartHow.MDM_SCRIPT_JOB)
        for key in ("at_s", "args"):
            if how in (StartHow.DAEMON, StartHow.NONE) and table.has(key):
                raise table.fail(key, f'no {key} with how = "{how.value}" (nothing is started by hand)',
                                 checks.describe(table.data[key]),
                                 f'remove {key}, or use how = "mdm-script-job" or "ssh"')
        at_s = table.get("at_s", checks.seconds(example="0"), 0.0)
        self.before_the_end(table, "at_s", at_s)
        return Start(how, at_s, table.get("args", checks.ARGS, ()))

    def before_the_end(self, table: _Table, key: str, at_s: float) -> None:
        if at_s >= self.limits.simulated_s:
            raise table.fail(key, f"a time before limits.simulated_s ({self.limits.simulated_s:g} s)",
                             table.value(key), "make it earlier, or raise limits.simulated_s")

    def puppet(self, table: _Table) -> PuppetPlan:
        model = table.get("role_model", checks.choice(RoleModel, '"m4"'), RoleModel.M4)
        entries = table.tables("applies", "puppet.applies")
        if table.has("applies") and not entries:
            raise table.fail("applies", "at least one [[puppet.applies]]", "[] (an empty array)",
                             "remove applies to get the default plan, or add [[puppet.applies]] entries")
        applies = tuple(PuppetApply(
            exit_code=entry.get("exit_code", checks.choice((0, 1, 2, 4, 6), "2"), 0),
            duration_s=entry.get("duration_s", checks.seconds(example="300"), 60.0),
            output=entry.get("output", checks.strings(checks.text("a one-line string", empty=True), "an array of "
                                                "one-line strings", '["Notice: Applied catalog"]'), ()),
            tcc=entry.get("tcc", checks.choice(Tcc, '"auto"'), Tcc.AUTO)) for entry in entries)
        return PuppetPlan(model, applies or PuppetPlan.applies)

    def events(self, root: _Table, host: Host) -> tuple[ScenarioEvent, ...]:
        events: list[ScenarioEvent] = []
        version, ended = host.macos_version, None
        for index, entry in enumerate(root.tables("events", "events", check_keys=False)):
            kind = entry.get("what", checks.choice(EventKind, '"reboot"'))
            entry.allow(("at_s", "what", *_EVENT_KEYS[kind]), f'a "{kind.value}" event', "events")
            at_s = entry.get("at_s", checks.seconds())
            self.before_the_end(entry, "at_s", at_s)
            if events and at_s < events[-1].at_s:
                raise entry.fail("at_s", f"a time >= {events[-1].at_s:g} (events are listed in time "
                                 f"order; events[{index - 1}] is at {events[-1].at_s:g})",
                                 entry.value("at_s"), "move this [[events]] entry before the later ones")
            if ended:
                raise entry.fail("what", f"no event after {ended}, which leaves the Mac off",
                                 entry.value("what"), "remove this event, or let the Mac come back")
            event = self.event(entry, kind, at_s, version)
            if isinstance(event, MacosUpdate):
                version = event.to_version
            if isinstance(event, Halt) or (isinstance(event, PowerLoss) and not event.restored):
                ended = entry.path
            events.append(event)
        return tuple(events)

    def event(self, entry: _Table, kind: EventKind, at_s: float, version: str) -> ScenarioEvent:
        if kind is EventKind.POWER_LOSS:
            return PowerLoss(at_s, entry.get("restored", checks.boolean(), True))
        if kind is EventKind.MACOS_UPDATE:
            return self.macos_update(entry, at_s, version)
        if kind is EventKind.DELIVER_FILE:
            return DeliverFile(at_s, self.file_spec(entry, at_start=False))
        if kind is EventKind.DELIVER_PROFILE:
            identifier = entry.get("identifier", checks.text("a profile identifier (reverse DNS)",
                                                       '"com.mozilla.autologin"', r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+"))
            return DeliverProfile(at_s, identifier, self.payload(entry))
        if kind is EventKind.PUSH_COMMIT:
            return PushCommit(at_s, entry.get("message", checks.ONE_LINE),
                              entry.get("branch", checks.text("a git branch name", '"master"',
                                                        r"[A-Za-z0-9._][A-Za-z0-9._/-]*"), "master"))
        if kind is EventKind.OPERATOR_RUN:
            return OperatorRun(at_s, entry.get("args", checks.ARGS, ()))
        return _EVENT_CLASSES[kind](at_s)

    def macos_update(self, entry: _Table, at_s: float, version: str) -> MacosUpdate:
        to_version = entry.get("to_version", checks.VERSION)
        if _version_tuple(to_version) <= _version_tuple(version):
            raise entry.fail("to_version", f"a version newer than {version} (the version then)",
                             entry.value("to_version"), "give the version MDM updates to")
        to_build = entry.get("to_build", checks.BUILD)
        kernel = entry.get("to_kernel_release", checks.KERNEL, None) or self.kernel_of(entry, "to_version", to_version)
        reboots = entry.get("reboots", checks.integer(1, 10, "2"), 1)
        removes = self.removes(entry)
        files = self.files(entry.tables("files", "events.files"), {}, at_start=False)
        removed = {canonical(path): index for index, path in enumerate(removes)}
        for index, spec in enumerate(files):
            if canonical(spec.path) in removed:
                raise self.error(f"{entry.at('files')}[{index}].path", "a path that removes does not list "
                                 "(a file the update writes replaces what was there)", checks.describe(spec.path),
                                 f"remove it from removes[{removed[canonical(spec.path)]}]")
        return MacosUpdate(at_s, to_version, to_build, kernel, reboots, removes, files,
                           entry.get("network_up_after_s", checks.seconds(example="120"), None))

    def removes(self, entry: _Table) -> tuple[str, ...]:
        """The paths a macOS update removes: each inside a top-level folder, each listed once."""
        removes = entry.get("removes", checks.strings(checks.mac_path(example='"/usr/local/bin/python3"'),
                                                "an array of absolute macOS paths",
                                                '["/usr/local/bin/python3"]'), ())
        seen: dict[str, int] = {}
        for index, path in enumerate(removes):
            where = f"{entry.at('removes')}[{index}]"
            resolved = canonical(path)
            parts = resolved.strip("/").split("/")
            if resolved in ("/", "/usr/local") or len(parts) < (3 if parts[0] == "private" else 2):
                raise self.error(where, "a path inside a top-level folder of the disk (not /, /Library, "
                                 "/Users, /opt, /private/var, /usr/local, ...)", checks.describe(path),
                                 "name the files or folders inside it that the update removes")
            if resolved in seen:
                raise self.error(where, "each path once", f"{checks.render(path)}, already removes[{seen[resolved]}]",
                                 "remove the repeated entry")
            seen[resolved] = index
        return removes

    def payload(self, entry: _Table) -> bytes:
        value = entry.data.get("payload", {})
        if not isinstance(value, dict):
            raise entry.fail("payload", "a table of the profile's settings", checks.describe(value),
                             'write it as payload = { AutoLoginUser = "cltbld" }')
        for path, item in _leaves(value, entry.at("payload")):
            plain_date = isinstance(item, (datetime.date, datetime.time)) and not isinstance(item, datetime.datetime)
            if plain_date or (checks.is_int(item) and not -2**63 <= item < 2**64):
                raise self.error(path, "a property list value (string, integer of 64 bits, float, "
                                 "boolean, date-time, array or table)", checks.describe(item),
                                 "write a full date-time (1979-05-27T07:32:00Z) or a string")
        return plistlib.dumps(value)

    def expect(self, table: _Table, start: Start) -> Expect:
        boots_check = checks.integer(1, self.limits.boots, "3")
        boots = table.get("boots", boots_check, None)
        if boots is not None and table.has("boots_at_most"):
            raise table.fail("boots_at_most", "either boots or boots_at_most, not both", "both",
                             "keep boots for an exact count, or boots_at_most for a bound")
        return Expect(
            verdict=table.get("verdict", checks.choice(Verdict, '"quiet"'), None), boots=boots,
            boots_at_most=table.get("boots_at_most", boots_check, None),
            files=tuple(self.expect_file(entry) for entry in table.tables("files", "expect.files")),
            loaded=tuple(ExpectLoaded(entry.get("label", checks.LABEL), entry.get("loaded", checks.boolean(), True))
                         for entry in table.tables("loaded", "expect.loaded")),
            facts=tuple(self.fact(entry, start) for entry in table.tables("facts", "expect.facts",
                                                                          check_keys=False)))

    def expect_file(self, table: _Table) -> ExpectFile:
        path = table.get("path", checks.mac_path())
        present = table.get("present", checks.boolean(), True)
        details = [key for key in ("content", "contains", "mode", "owner", "group") if table.has(key)]
        if not present and details:
            raise table.fail(details[0], f"no {details[0]} for a file expected absent (present = false)",
                             checks.describe(table.data[details[0]]), f"remove {details[0]} or set present = true")
        text = checks.text("a string", '"System Installed"', empty=True, multiline=True)
        return ExpectFile(path, present, table.get("content", text, None), table.get("contains", text, None),
                          table.get("mode", checks.mode(), None),
                          table.get("owner", self.name_check(self.users, "user"), None),
                          table.get("group", self.name_check(self.groups, "group"), None))

    def fact(self, table: _Table, start: Start) -> Fact:
        kind = table.get("fact", checks.choice(FactKind, '"puppet-applied"'))
        table.allow(("fact", *_FACT_KEYS[kind]), f'the fact "{kind.value}"', "expect.facts")
        if kind is FactKind.SCRIPT_EXITED and start.how not in (StartHow.MDM_SCRIPT_JOB, StartHow.SSH):
            raise table.fail("fact", 'a fact about a started script (start.how = "mdm-script-job" or '
                             '"ssh")', f'"script-exited" with start.how = "{start.how.value}"',
                             "remove this fact or change [start]")
        needed = _FACT_REQUIRED.get(kind, ())

        def param(key: str, check: checks.Check) -> Any:
            return table.get(key, check, _REQUIRED if key in needed else None)
        return Fact(kind, at_boot=param("at_boot", checks.integer(1, self.limits.boots, "2")),
                    **self.counts(table, counting=set(_COUNTS) <= set(_FACT_KEYS[kind])),
                    status=param("status", checks.integer(0, 255, "0")),
                    name=param("name", checks.text("a name", '"FACTER_PUPPETIZING"', r"[A-Za-z_][A-Za-z0-9_]*")),
                    value=param("value", checks.text("a string", '"true"', empty=True)),
                    contains=param("contains", checks.text("a non-empty one-line string", '"TCC database missing"')),
                    branch=param("branch", checks.text("a git branch name", '"production"',
                                                 r"[A-Za-z0-9._][A-Za-z0-9._/-]*")))

    def counts(self, table: _Table, *, counting: bool) -> dict[str, int | None]:
        """count, at_least and at_most of a fact; a counting fact with none means at_least = 1."""
        counts = {key: table.get(key, checks.integer(0, None, "1"), None) for key in _COUNTS}
        exact, low, high = counts["count"], counts["at_least"], counts["at_most"]
        if exact is not None and (low is not None or high is not None):
            raise table.fail("count", "either count, or at_least and/or at_most", "count with a bound",
                             "keep count for an exact number, or the bounds for a range")
        if low is not None and high is not None and low > high:
            raise table.fail("at_most", f"a number >= at_least ({low})", table.value("at_most"),
                             "swap them or correct one")
        if counting and all(value is None for value in counts.values()):
            counts["at_least"] = 1  # "it happened" is the natural reading of a bare counting fact
        return counts

    def invariants(self, table: _Table) -> Invariants:
        off = table.data.get("off", {})
        if not isinstance(off, dict):
            raise table.fail("off", "a table of invariant = reason", checks.describe(off),
                             'write off = { "no-reboot-loop" = "why it does not apply here" }')
        names = checks.choice(KNOWN_INVARIANTS, '"never-stranded"')
        reasons = _Table(self, off, table.at("off"))
        pairs = []
        for name in off:
            try:
                names.convert(name)
            except checks.Bad as bad:
                raise reasons.fail(name, names.expected, f"an unknown invariant {checks.render(name)}",
                                   bad.fix or "correct the name") from None
            pairs.append((name, reasons.get(name, checks.text("a reason (one line)", '"why it does not apply"'))))
        violations = table.get("expect_violation", checks.strings(names, "an array of invariant names",
                                                            '["never-stranded"]'), ())
        for index, name in enumerate(violations):
            if name in off:
                raise self.error(f"{table.at('expect_violation')}[{index}]",
                                 "an invariant that is not switched off", checks.describe(name),
                                 "remove it from expect_violation or from off")
        return Invariants(tuple(pairs), violations)


def _leaves(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    """(key path, value) of every value in nested tables and arrays that is neither."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, checks.key_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = tuple(int(part) for part in version.split("."))
    return parts + (0,) * (3 - len(parts))


def load_scenario(path: Path) -> Scenario:
    """Loads one scenario file; raises ScenarioError for the first problem found in it."""
    return _Loader(Path(path)).scenario()


def load_scenarios(paths: Iterable[Path]) -> list[Scenario]:
    """Loads scenario files, and every *.toml of a directory (sorted by name), in order.

    Raises ScenarioError for the first problem: in a file, a directory with no scenario, or two
    scenarios with the same name (names are test ids).
    """
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in map(Path, paths):
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        if not files:
            raise ScenarioError(path, "", "a directory with scenario files (*.toml)", "none",
                                "add a scenario, or pass the right directory")
        for file in files:
            scenario = load_scenario(file)
            if scenario.name in seen:
                raise ScenarioError(file, "scenario.name", "a name no other scenario uses",
                                    f"{checks.render(scenario.name)}, already used by {seen[scenario.name]}",
                                    "rename one of them (the name defaults to the file name)")
            seen[scenario.name] = file
            scenarios.append(scenario)
    return scenarios
