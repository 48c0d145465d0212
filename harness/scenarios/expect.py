"""A scenario's `[expect]`: what must hold at the end of its run, judged from the trace and the disk.

Each failed expectation is a `Violation` of "expect" naming what was expected and what was
found. Facts about the trace are checked by the function registered for their kind in `FACTS`.
"""
from __future__ import annotations

from typing import Callable

from .. import fleet
from ..mac.machine import Machine, RunResult
from ..trace import Event
from ..world.github import GitHub
from .build import SESSIONS, Stage
from .invariants import PRESENT, Violation
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
        message = FACTS[fact.kind](fact, events, Judged(machine, stage.github))
        if message:
            found.append(Violation("expect", f"{fact.kind.value}: {message}", last_boot))
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
    return [Violation("expect", f"{want.path}: {p}", boot) for p in problems]


# -- facts about the trace ----------------------------------------------------------------------

class Judged:
    """What a fact may look at besides the trace: the Mac's disk at the end, and GitHub."""

    def __init__(self, machine: Machine, github: GitHub) -> None:
        self.machine, self.github = machine, github


FactCheck = Callable[[Fact, list[Event], Judged], str | None]
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
    return f"its plist was written in boot {hits[0].boot}" if hits else None


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
    applies = [e for e in events if e.kind == "puppet-apply"]
    if not applies:
        return "puppet never applied"
    wrong = [e for e in applies if e.data["env"].get(key) != fact.value]
    if wrong:
        seen = wrong[0].data["env"].get(key)
        return f"apply {wrong[0].data['number']} (boot {wrong[0].boot}) had {key}={seen!r}, expected {fact.value!r}"
    return None


@_fact(FactKind.SEMAPHORE_WRITTEN)
def _semaphore_written(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _in_boot(_file_events(events, fleet.SEMAPHORE, PRESENT), fact)
    return None if hits else f"/var/tmp/semaphore/run-buildbot was not written{_where(fact)}"


@_fact(FactKind.SEMAPHORE_NEVER_WRITTEN)
def _semaphore_never_written(fact: Fact, events: list[Event], _: Judged) -> str | None:
    hits = _file_events(events, fleet.SEMAPHORE, PRESENT)
    return f"it was written in boot {hits[0].boot}" if hits else None


@_fact(FactKind.REBOOTED)
def _rebooted(fact: Fact, events: list[Event], _: Judged) -> str | None:
    asked = [e for e in events if e.kind == "shutdown" and e.data["how"] == "reboot"
             and not e.data["cause"].startswith("scheduled")]
    return _count(fact, len(asked), "reboots on request")


@_fact(FactKind.SCRIPT_EXITED)
def _script_exited(fact: Fact, events: list[Event], _: Judged) -> str | None:
    exits = [e for e in events if e.kind == "process-exit" and e.job in SESSIONS.values()]
    if not exits:
        return "the script never exited (it was killed by a reboot or is still running)"
    status = exits[-1].data.get("status")
    return None if status == fact.status else f"expected status {fact.status}, got {status or exits[-1].data}"


@_fact(FactKind.MAIL_SENT)
def _mail_sent(fact: Fact, events: list[Event], _: Judged) -> str | None:
    mails = [e for e in _in_boot([e for e in events if e.kind == "mail"], fact)
             if fact.contains is None or fact.contains in e.data["subject"] or fact.contains in e.data["body"]]
    with_text = f" with {fact.contains!r} in the subject or body" if fact.contains is not None else ""
    return _count(fact, len(mails), f"mails{with_text}{_where(fact)}")


@_fact(FactKind.CHECKOUT_CURRENT)
def _checkout_current(fact: Fact, events: list[Event], judged: Judged) -> str | None:
    return judged.github.checkout_is_current(branch=fact.branch or "master")
