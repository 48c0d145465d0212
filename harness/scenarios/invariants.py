"""What must hold on every run of a bootstrap, checked from the trace alone.

Each invariant has a stable id, one sentence of meaning, and reports its violations with the
boot and step of the events that prove them. A scenario may switch one off with a reason, or
expect one to fail (a field failure it reproduces). The bootstrap's identity (label, paths) is
the reboot-survivable change's, from harness/fleet.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..fleet import (BOOTSTRAP_COPY, BOOTSTRAP_LABEL, BOOTSTRAP_PLIST_NAME, LABELS, REGULAR_PLISTS, SEMAPHORE,
                     WORKER_RUNNER_PLIST)
from ..trace import Event

#: More reboots than this, asked for by the script itself, is a loop (the TCC bound is 3).
MAX_REQUESTED_REBOOTS = 5
PRESENT = ("created", "moved-here", "renamed", "written")


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str
    boot: int | None = None
    step: int | None = None

    def to_json(self) -> dict:
        return {"invariant": self.invariant, "message": self.message, "boot": self.boot, "step": self.step}


def _step_of(events: list[Event], index: int) -> int | None:
    """The number of the last step at or before events[index]."""
    for event in reversed(events[:index + 1]):
        if "step" in event.data and event.kind in ("step", "call"):
            return event.data["step"]
    return None


def _violation(name: str, message: str, events: list[Event], index: int) -> Violation:
    return Violation(name, message, events[index].boot, _step_of(events, index))


class DiskView:
    """The presence of the files the invariants care about, replayed from the trace; and which
    of them are broken (a plist launchd rejects, a file a power cut tore)."""

    def __init__(self) -> None:
        self.daemons: set[str] = set()
        self.semaphore = False
        self.copy = False
        self.broken: set[str] = set()  # daemon plist names, or BOOTSTRAP_COPY
        self.disabled: set[str] = set()  # labels launchd will not start (the override database)

    def apply(self, event: Event) -> None:
        if event.kind == "boot":
            self.daemons = set(event.data.get("daemons", ()))
            self.semaphore = event.data.get("semaphore", False)
            self.disabled = set(event.data.get("disabled", ()))
            return
        if event.kind == "override":
            (self.disabled.add if event.data["disabled"] else self.disabled.discard)(event.data["label"])
            return
        if event.kind == "torn":
            self.broken.add(_daemon_name(event.data["path"]) or event.data["path"])
            return
        if event.kind != "file":
            return
        path, present = event.data["path"], event.data["change"] in PRESENT
        source = event.data.get("from")
        for name, here in ((source, False), (path, present)):
            if not name:
                continue
            daemon = _daemon_name(name)
            self.broken.discard(daemon or name)
            if daemon is not None:
                (self.daemons.add if here else self.daemons.discard)(daemon)
                if here and event.data.get("launchd", "ok") != "ok":
                    self.broken.add(daemon)
            elif name == SEMAPHORE:
                self.semaphore = here
            elif name == BOOTSTRAP_COPY:
                self.copy = here

    @property
    def bootstrap_registered(self) -> bool:
        return BOOTSTRAP_PLIST_NAME in self.daemons

    @property
    def bootstrap_runnable(self) -> bool:
        """Its plist loads, its label is not disabled, and the script copy it runs is whole."""
        return self._usable(BOOTSTRAP_PLIST_NAME) and self.copy and BOOTSTRAP_COPY not in self.broken

    @property
    def regular_mechanism(self) -> bool:
        return any(self._usable(name) for name in REGULAR_PLISTS)

    @property
    def something_will_run_it(self) -> bool:
        """A mechanism on disk that will run run-puppet.sh at a later boot: the bootstrap, or a
        regular one that starts by itself (worker-runner only once the semaphore exists: it is
        KeepAlive on that path, RunAtLoad false)."""
        starts = [name for name in REGULAR_PLISTS if name != WORKER_RUNNER_PLIST or self.semaphore]
        return self.bootstrap_runnable or any(self._usable(name) for name in starts)

    def _usable(self, name: str) -> bool:
        return name in self.daemons and name not in self.broken and LABELS[name] not in self.disabled

    @property
    def handed_over(self) -> bool:
        return self.semaphore and self.regular_mechanism and not self.bootstrap_registered


def _daemon_name(path: str) -> str | None:
    if path.startswith("/Library/LaunchDaemons/") and path.count("/") == 3:
        return path.rsplit("/", 1)[1]
    return None


def converges(events: list[Event]) -> Iterable[Violation]:
    """Within the limits the host is handed over: a clean apply, the semaphore, the regular
    mechanism on disk, no bootstrap daemon or script copy left."""
    view = DiskView()
    for event in events:
        view.apply(event)
    clean = any(e.kind == "puppet-apply-done" and e.data["clean"] for e in events)
    problems = [what for what, wrong in (("no clean puppet apply", not clean),
                                         ("no semaphore", not view.semaphore),
                                         ("no regular mechanism on disk", not view.regular_mechanism),
                                         ("the bootstrap plist still on disk", view.bootstrap_registered),
                                         ("the bootstrap script copy still on disk", view.copy)) if wrong]
    if problems:
        yield _violation("converges", "not handed over at the end: " + ", ".join(problems),
                         events, len(events) - 1)


def no_overlap(events: list[Event]) -> Iterable[Violation]:
    """Never two puppet applies at once."""
    for index, event in enumerate(events):
        if event.kind == "puppet-apply" and event.data.get("overlapping"):
            yield _violation("no-overlap", f"puppet apply {event.data['number']} started while another "
                                           f"was still running (pid {event.pid}, {event.job})", events, index)


def never_stranded(events: list[Event]) -> Iterable[Violation]:
    """Before handover, no boot ends with nothing on disk that will run the bootstrap again."""
    view = DiskView()
    started = False
    for index, event in enumerate(events):
        view.apply(event)
        started = started or event.kind == "process-start"
        ends_boot = event.kind in ("shutdown", "power-loss") or index == len(events) - 1
        if started and ends_boot and not view.handed_over:
            if not view.something_will_run_it:
                what = ("a bootstrap daemon that can run (its plist or script copy is missing, torn or "
                        "rejected by launchd, or its label is disabled)" if view.bootstrap_registered
                        else "the bootstrap daemon")
                regular = ("worker-runner, which waits for a semaphore that is not there"
                           if view.regular_mechanism else "a regular mechanism")
                yield _violation("never-stranded", f"boot {event.boot} ended before handover with neither "
                                                   f"{what} nor {regular} on disk", events, index)
                return


def semaphore_truthful(events: list[Event]) -> Iterable[Violation]:
    """The semaphore is never written before a clean apply."""
    clean = False
    for index, event in enumerate(events):
        if event.kind == "puppet-apply-done" and event.data["clean"]:
            clean = True
        elif event.kind == "file" and event.data["path"] == SEMAPHORE and event.data["change"] in PRESENT and not clean:
            yield _violation("semaphore-truthful", "the semaphore was written before any clean puppet apply",
                             events, index)
            return


def launchd_accepts(events: list[Event]) -> Iterable[Violation]:
    """Every plist the script writes is one launchd loads."""
    for index, event in enumerate(events):
        verdict = event.data.get("launchd") if event.kind == "file" else None
        if verdict and verdict != "ok" and event.job is not None:
            yield _violation("launchd-accepts", f"{event.data['path']} would not load: {verdict}", events, index)


def no_reboot_loop(events: list[Event]) -> Iterable[Violation]:
    """Reboots are bounded and each has a cause in the trace."""
    requested = 0
    previous: Event | None = None
    for index, event in enumerate(events):
        if event.kind == "shutdown" and not event.data["cause"].startswith(("scheduled", "macOS")):
            requested += 1
            if requested == MAX_REQUESTED_REBOOTS + 1:
                yield _violation("no-reboot-loop", f"the script asked for more than {MAX_REQUESTED_REBOOTS} "
                                                   "reboots", events, index)
        if event.kind == "boot" and event.boot > 1:
            cause = previous is not None and previous.kind in ("shutdown", "power-loss", "scheduled")
            if not cause:
                yield _violation("no-reboot-loop", f"boot {event.boot} has no cause in the trace", events, index)
        if event.kind in ("shutdown", "power-loss", "scheduled", "boot"):
            previous = event


def single_mechanism(events: list[Event]) -> Iterable[Violation]:
    """After handover, later boots run the regular mechanism only."""
    view = DiskView()
    handed_over_in: int | None = None
    for index, event in enumerate(events):
        view.apply(event)
        if handed_over_in is None and view.handed_over:
            handed_over_in = event.boot
        if (handed_over_in is not None and event.boot > handed_over_in and event.kind == "job-started"
                and event.job == BOOTSTRAP_LABEL):
            yield _violation("single-mechanism", f"the bootstrap daemon ran again in boot {event.boot}, after "
                                                 f"the handover in boot {handed_over_in}", events, index)
            return


INVARIANTS: dict[str, Callable[[list[Event]], Iterable[Violation]]] = {
    "converges": converges, "no-overlap": no_overlap, "never-stranded": never_stranded,
    "semaphore-truthful": semaphore_truthful, "launchd-accepts": launchd_accepts,
    "no-reboot-loop": no_reboot_loop, "single-mechanism": single_mechanism,
}


def check(events: list[Event], *, off: Iterable[str] = ()) -> list[Violation]:
    """Every violation of every invariant that is not switched off, in invariant order."""
    skipped = set(off)
    return [v for name, invariant in INVARIANTS.items() if name not in skipped for v in invariant(events)]
