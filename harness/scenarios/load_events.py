"""Reading a scenario's `[[events]]`: what happens to the Mac at which simulated time, in order."""
from __future__ import annotations

import datetime
import plistlib
from collections.abc import Iterable
from typing import Any

from ..mac.paths import canonical
from . import checks
from .load_host import file_spec, files, kernel_of
from .schema import (_EVENT_CLASSES, DeliverFile, DeliverProfile, EventKind, Halt, Host, MacosUpdate, OperatorRun,
                     PowerLoss, PushCommit, RemoveFiles, ScenarioEvent)
from .tables import _EVENT_KEYS, Context, Table


def events(ctx: Context, root: Table, host: Host) -> tuple[ScenarioEvent, ...]:
    found: list[ScenarioEvent] = []
    version, ended = host.macos_version, None
    for index, entry in enumerate(root.tables("events", "events", check_keys=False)):
        kind = entry.get("what", checks.choice(EventKind, '"reboot"'))
        entry.allow(("at_s", "what", *_EVENT_KEYS[kind]), f'a "{kind.value}" event', "events")
        at_s = entry.get("at_s", checks.seconds())
        ctx.before_the_end(entry, "at_s", at_s)
        if found and at_s < found[-1].at_s:
            raise entry.fail("at_s", f"a time >= {found[-1].at_s:g} (events are listed in time "
                             f"order; events[{index - 1}] is at {found[-1].at_s:g})",
                             entry.value("at_s"), "move this [[events]] entry before the later ones")
        if ended:
            raise entry.fail("what", f"no event after {ended}, which leaves the Mac off",
                             entry.value("what"), "remove this event, or let the Mac come back")
        read = event(ctx, entry, kind, at_s, version)
        if isinstance(read, MacosUpdate):
            version = read.to_version
        if isinstance(read, Halt) or (isinstance(read, PowerLoss) and not read.restored):
            ended = entry.path
        found.append(read)
    return tuple(found)


def event(ctx: Context, entry: Table, kind: EventKind, at_s: float, version: str) -> ScenarioEvent:
    if kind is EventKind.POWER_LOSS:
        return PowerLoss(at_s, entry.get("restored", checks.boolean(), True))
    if kind is EventKind.MACOS_UPDATE:
        return macos_update(ctx, entry, at_s, version)
    if kind is EventKind.DELIVER_FILE:
        return DeliverFile(at_s, file_spec(ctx, entry, at_start=False))
    if kind is EventKind.DELIVER_PROFILE:
        identifier = entry.get("identifier", checks.text("a profile identifier (reverse DNS)",
                                                   '"com.mozilla.autologin"', r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+"))
        return DeliverProfile(at_s, identifier, payload(ctx, entry))
    if kind is EventKind.PUSH_COMMIT:
        return PushCommit(at_s, entry.get("message", checks.ONE_LINE),
                          entry.get("branch", checks.text("a git branch name", '"master"',
                                                    r"[A-Za-z0-9._][A-Za-z0-9._/-]*"), "master"))
    if kind is EventKind.OPERATOR_RUN:
        return OperatorRun(at_s, entry.get("args", checks.ARGS, ()))
    if kind is EventKind.REMOVE_FILES:
        if not entry.has("paths"):
            raise entry.fail("paths", "the files or folders removed", "nothing (the key is missing)",
                             'add paths = ["/Library/Caches/puppet-downloads"]')
        return RemoveFiles(at_s, removes(ctx, entry, "paths"))
    return _EVENT_CLASSES[kind](at_s)


def macos_update(ctx: Context, entry: Table, at_s: float, version: str) -> MacosUpdate:
    to_version = entry.get("to_version", checks.VERSION)
    if _version_tuple(to_version) <= _version_tuple(version):
        raise entry.fail("to_version", f"a version newer than {version} (the version then)",
                         entry.value("to_version"), "give the version MDM updates to")
    to_build = entry.get("to_build", checks.BUILD)
    kernel = entry.get("to_kernel_release", checks.KERNEL, None) or kernel_of(ctx, entry, "to_version", to_version)
    reboots = entry.get("reboots", checks.integer(1, 10, "2"), 1)
    removed_paths = removes(ctx, entry)
    written = files(ctx, entry.tables("files", "events.files"), {}, at_start=False)
    removed = {canonical(path): index for index, path in enumerate(removed_paths)}
    for index, spec in enumerate(written):
        if canonical(spec.path) in removed:
            raise ctx.error(f"{entry.at('files')}[{index}].path", "a path that removes does not list "
                            "(a file the update writes replaces what was there)", checks.describe(spec.path),
                            f"remove it from removes[{removed[canonical(spec.path)]}]")
    return MacosUpdate(at_s, to_version, to_build, kernel, reboots, removed_paths, written,
                       entry.get("network_up_after_s", checks.seconds(example="120"), None))


def removes(ctx: Context, entry: Table, key: str = "removes") -> tuple[str, ...]:
    """The paths a macOS update (or someone, by hand) removes: each inside a top-level folder,
    each listed once."""
    paths = entry.get(key, checks.strings(checks.mac_path(example='"/usr/local/bin/python3"'),
                                      "an array of absolute macOS paths",
                                      '["/usr/local/bin/python3"]'), ())
    seen: dict[str, int] = {}
    for index, path in enumerate(paths):
        where = f"{entry.at(key)}[{index}]"
        resolved = canonical(path)
        parts = resolved.strip("/").split("/")
        if resolved in ("/", "/usr/local") or len(parts) < (3 if parts[0] == "private" else 2):
            raise ctx.error(where, "a path inside a top-level folder of the disk (not /, /Library, "
                            "/Users, /opt, /private/var, /usr/local, ...)", checks.describe(path),
                            "name the files or folders inside it that are removed")
        if resolved in seen:
            raise ctx.error(where, "each path once", f"{checks.render(path)}, already {key}[{seen[resolved]}]",
                            "remove the repeated entry")
        seen[resolved] = index
    return paths


def payload(ctx: Context, entry: Table) -> bytes:
    value = entry.data.get("payload", {})
    if not isinstance(value, dict):
        raise entry.fail("payload", "a table of the profile's settings", checks.describe(value),
                         'write it as payload = { AutoLoginUser = "cltbld" }')
    for path, item in _leaves(value, entry.at("payload")):
        plain_date = isinstance(item, (datetime.date, datetime.time)) and not isinstance(item, datetime.datetime)
        if plain_date or (checks.is_int(item) and not -2**63 <= item < 2**64):
            raise ctx.error(path, "a property list value (string, integer of 64 bits, float, "
                            "boolean, date-time, array or table)", checks.describe(item),
                            "write a full date-time (1979-05-27T07:32:00Z) or a string")
    return plistlib.dumps(value)


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
