"""A scenario's `[expect]`: what must hold at the end of its run, judged from the trace and the disk.

Each failed expectation is a `Violation` of "expect" naming what was expected and what was
found. Facts about the trace are checked by the function registered for their kind in `FACTS`.
"""
from __future__ import annotations

import os
from typing import Callable

from .. import fleet
from ..mac.machine import Machine, RunResult
from ..trace import Event
from ..world.github import GitHub
from .build import SESSIONS, Stage
from .invariants import PRESENT, Violation, step_of
from .schema import ExpectFile, Fact, FactKind, Scenario


def check_expectations(scenario: Scenario, stage: Stage, result: RunResult) -> list[Violation]:
    expect, events, machine = scenario.expect, result.trace.events, stage.machine
    found: list[Violation] = []
    last_boot = result.boots
    if expect.verdict is not None and result.verdict != expect.verdict:
        found.append(Violation("expect", f"verdict: expected {expect.verdict.value}, got "
                                         f"{result.verdict.value} ({result.detail})", last_boot))
    if expect.boots is not None and result.boots != expect.boots:
        found.append(Violation("expect", f"boots: expected {expect.boots}, got {result.boots}", last_boot))
    if expect.boots_at_most is not None and result.boots > expect.boots_at_most:
        found.append(Violation("expect", f"boots: expected at most {expect.boots_at_most}, got {result.boots}",
                               last_boot))
    for want in expect.files:
        found += _check_file(machine, want, last_boot)
    for want in expect.loaded:
        loaded = want.label in machine.last_loaded
        if loaded != want.loaded:
            found.append(Violation("expect", f"{want.label}: expected {'loaded' if want.loaded else 'not loaded'} "
                                             f"in launchd at the end, it was {'' if loaded else 'not '}loaded",
                                   last_boot))
    for fact in expect.facts:
        finding = FACTS[fact.kind](fact, events, Judged(machine, stage.github))
        if isinstance(finding, tuple):  # what went wrong, and the event that shows it
            message, evidence = finding
            found.append(Violation("expect", f"{fact.kind.value}: {message}", evidence.boot,
                                   step_of(events, evidence.seq), evidence.seq))
        elif finding:
            found.append(Violation("expect", f"{fact.kind.value}: {finding}", last_boot))
    return found


def _check_file(machine: Machine, want: ExpectFile, boot: int) -> list[Violation]:
    host = machine.disk.host_path(want.path)
    present = host.exists()
    if present != want.present:
        return [Violation("expect", f"{want.path}: expected {'present' if want.present else 'absent'}, "
                                    f"it is {'present' if present else 'absent'}", boot)]
    if not present:
        return []
    problems = []
    text = host.read_bytes().decode("utf-8", "replace") if host.is_file() else ""
    if want.content is not None and text != want.content:
        problems.append(f"content: expected {want.content!r}, found {text[:200]!r}")
    if want.contains is not None and want.contains not in text:
        problems.append(f"expected to contain {want.contains!r}, found {text[:200]!r}")
    if want.mode is not None and host.stat().st_mode & 0o7777 != want.mode:
        problems.append(f"mode: expected {want.mode:04o}, found {host.stat().st_mode & 0o7777:04o}")
    owner, group = machine.disk.ownership.owner(want.path)
    if want.owner is not None and owner != want.owner:
        problems.append(f"owner: expected {want.owner}, found {owner}")
    if want.group is not None and group != want.group:
        problems.append(f"group: expected {want.group}, found {group}")
    if want.writable_by is not None:
        refused = _cannot_create_and_remove(machine, want.path, want.writable_by)
        if refused:
            problems.append(f"expected {want.writable_by} to create and remove files in it, but {refused}")
    return [Violation("expect", f"{want.path}: {p}", boot) for p in problems]


def _cannot_create_and_remove(machine: Machine, path: str, user: str) -> str | None:
    """Why `user` cannot create entries in the directory `path` and remove each entry now in it
    (BSD rules: write and search permission on the directory for the user's owner, group or
    other class; with the sticky bit, only entries the user owns, or all in a directory it
    owns), or None when it can."""
    disk = machine.disk
    host = disk.host_path(path)
    if not host.is_dir():
        return "it is not a directory"
    account = disk.accounts.account(user)
    owner, group = disk.ownership.owner(path)
    groups = {g.name for g in disk.accounts.groups() if g.gid == account.gid or user in g.members}
    mode = host.stat().st_mode
    shift = 6 if owner == user else 3 if group in groups else 0
    if user != "root" and (mode >> shift) & 0o3 != 0o3:
        who = "its owner" if shift == 6 else f"its group {group}" if shift == 3 else "others"
        return f"it is {owner}:{group} {mode & 0o7777:04o}, which gives {who} no write and search permission"
    if mode & 0o1000 and user not in ("root", owner):
        foreign = sorted(name for name in os.listdir(host)
                         if disk.ownership.owner(f"{path.rstrip('/')}/{name}", follow_last=False)[0] != user)
        if foreign:
            return (f"it is sticky ({mode & 0o7777:04o}) and {user} does not own {', '.join(foreign)}, "
                    "so it cannot remove them")
    return None


# -- facts about the trace ----------------------------------------------------------------------

class Judged:
    """What a fact may look at besides the trace: the Mac's disk at the end, and GitHub."""

    def __init__(self, machine: Machine, github: GitHub) -> None:
        self.machine, self.github = machine, github


#: A fact's check: None when it holds, else what is wrong, with the event that shows it when
#: one does (a fact about something missing has none).
FactCheck = Callable[[Fact, list[Event], Judged], "str | tuple[str, Event] | None"]
FACTS: dict[FactKind, FactCheck] = {}


def _fact(kind: FactKind) -> Callable[[FactCheck], FactCheck]:
    def register(check: FactCheck) -> FactCheck:
        FACTS[kind] = check
        return check
    return register


def _file_events(events: list[Event], path: str, changes: tuple[str, ...]) -> list[Event]:
    return [e for e in events if e.kind == "file" and e.data["path"] == path and e.data["change"] in changes]


def _count(fact: Fact, n: int, what: str) -> str | None:
    if fact.count is not None and n != fact.count:
        return f"expected {fact.count} {what}, found {n}"
    if fact.at_least is not None and n < fact.at_least:
        return f"expected at least {fact.at_least} {what}, found {n}"
    if fact.at_most is not None and n > fact.at_most:
        return f"expected at most {fact.at_most} {what}, found {n}"
    if fact.count is None and fact.at_least is None and fact.at_most is None and n < 1:
        return f"expected at least one {what}, found none"
    return None


def _in_boot(events: list[Event], fact: Fact) -> list[Event]:
    return [e for e in events if fact.at_boot is None or e.boot == fact.at_boot]


def _where(fact: Fact) -> str:
    return f" in boot {fact.at_boot}" if fact.at_boot is not None else ""


@_fact(FactKind.BOOTSTRAP_DAEMON_INSTALLED)
def _bootstrap_installed(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _in_boot(_file_events(events, fleet.BOOTSTRAP_PLIST, PRESENT), fact)
    return None if hits else f"its plist was not written{_where(fact)}"


@_fact(FactKind.BOOTSTRAP_DAEMON_NEVER_INSTALLED)
def _bootstrap_never_installed(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _file_events(events, fleet.BOOTSTRAP_PLIST, PRESENT)
    return (f"its plist was written in boot {hits[0].boot}", hits[0]) if hits else None


@_fact(FactKind.BOOTSTRAP_DAEMON_REMOVED)
def _bootstrap_removed(fact: Fact, events: list[Event], judged: Judged) -> str | None:
    removed = _in_boot(_file_events(events, fleet.BOOTSTRAP_PLIST, ("removed", "moved-away"))
                       + [e for e in events if e.kind == "file" and e.data.get("from") == fleet.BOOTSTRAP_PLIST],
                       fact)
    left = [p for p in (fleet.BOOTSTRAP_PLIST, fleet.BOOTSTRAP_COPY) if judged.machine.disk.host_path(p).exists()]
    if not removed:
        return f"its plist was not removed{_where(fact)}"
    return f"still on disk at the end: {', '.join(left)}" if left else None


@_fact(FactKind.PUPPET_APPLIED)
def _puppet_applied(fact: Fact, events: list[Event], _: Judged) -> str | None:
    return _count(fact, len(_in_boot([e for e in events if e.kind == "puppet-apply"], fact)),
                  f"puppet applies{_where(fact)}")


@_fact(FactKind.PUPPET_ENV)
@_fact(FactKind.PUPPET_FACT)
def _puppet_environment(fact: Fact, events: list[Event], _: Judged) -> str | None:
    key = fact.name if fact.kind is FactKind.PUPPET_ENV else f"FACTER_{fact.name}"
    applies = [e for e in events if e.kind == "puppet-apply" and fact.apply in (None, e.data["number"])]
    if not applies:
        return "puppet never applied" if fact.apply is None else f"puppet did not apply {fact.apply} times"
    wrong = [e for e in applies if e.data["env"].get(key) != fact.value]
    if wrong:
        seen = wrong[0].data["env"].get(key)
        return (f"apply {wrong[0].data['number']} (boot {wrong[0].boot}) had {key}={seen!r}, expected "
                f"{fact.value!r}", wrong[0])
    return None


@_fact(FactKind.SEMAPHORE_WRITTEN)
def _semaphore_written(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _in_boot(_file_events(events, fleet.SEMAPHORE, PRESENT), fact)
    return None if hits else f"/var/tmp/semaphore/run-buildbot was not written{_where(fact)}"


@_fact(FactKind.SEMAPHORE_NEVER_WRITTEN)
def _semaphore_never_written(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _file_events(events, fleet.SEMAPHORE, PRESENT)
    return (f"it was written in boot {hits[0].boot}", hits[0]) if hits else None


@_fact(FactKind.REBOOTED)
def _rebooted(fact: Fact, events: list[Event], _: Judged) -> str | None:
    asked = [e for e in events if e.kind == "shutdown" and e.data["how"] == "reboot"
             and not e.data["cause"].startswith(("scheduled", "macOS"))]  # a macOS update's are MDM's
    return _count(fact, len(asked), "reboots on request")


@_fact(FactKind.SCRIPT_EXITED)
def _script_exited(fact: Fact, events: list[Event], _: Judged) -> str | None:
    exits = [e for e in events if e.kind == "process-exit" and e.job in SESSIONS.values()]
    if not exits:
        return "the script never exited (it was killed by a reboot or is still running)"
    status = exits[-1].data.get("status")
    how = f"status {status}" if status is not None else f"signal {exits[-1].data.get('signal')}"
    if fact.success is not None:
        if (status == 0) == fact.success:
            return None
        return f"expected {'success (status 0)' if fact.success else 'a failure (a non-zero status)'}, got {how}"
    return None if status == fact.status else f"expected status {fact.status}, got {how}"


@_fact(FactKind.MAIL_SENT)
def _mail_sent(fact: Fact, events: list[Event], judged: Judged) -> str | None:
    hostname = judged.machine.config.hostname
    names = (hostname.lower(), hostname.split(".")[0].lower())

    def wanted(mail: Event) -> bool:
        text = mail.data["subject"] + "\n" + mail.data["body"]
        return ((fact.contains is None or fact.contains in text)
                and (fact.to is None or fact.to in mail.data["recipients"])
                and (not fact.mentions_host or any(name in text.lower() for name in names)))
    mails = [e for e in _in_boot([e for e in events if e.kind == "mail"], fact) if wanted(e)]
    which = [f"to {fact.to}" if fact.to else "", f"naming the host ({names[1]})" if fact.mentions_host else "",
             f"with {fact.contains!r} in the subject or body" if fact.contains is not None else ""]
    return _count(fact, len(mails), " ".join(["mails", *filter(None, which)]) + _where(fact))


@_fact(FactKind.FILE_WRITTEN)
def _file_written(fact: Fact, events: list[Event], judged: Judged) -> str | None:
    path = judged.machine.disk.resolve(fact.path)
    hits = _in_boot(_file_events(events, path, PRESENT), fact)
    return None if hits else f"{fact.path} was not written{_where(fact)}"


@_fact(FactKind.CHECKOUT_CURRENT)
def _checkout_current(fact: Fact, events: list[Event], judged: Judged) -> str | None:
    return judged.github.checkout_is_current(branch=fact.branch or "master")
