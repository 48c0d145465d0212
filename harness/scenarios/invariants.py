"""What must hold on every run of a bootstrap, checked from the trace alone.

Each invariant has a stable id, one sentence of meaning, and reports its violations with the
boot and step of the events that prove them. A scenario may switch one off with a reason, or
expect one to fail (a field failure it reproduces). The bootstrap's identity (label, paths) is
the reboot-survivable change's, from harness/fleet.py. On an M4 enrolled by the fleet's driver a
second self-registering daemon, the driver's (com.mozilla.m4-bootstrap), runs run-puppet.sh at
every boot too: the invariants see both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..fleet import (BOOTSTRAP_COPY, BOOTSTRAP_LABEL, BOOTSTRAP_PLIST_NAME, CONTRACTS, DRIVER_COMPLETE, DRIVER_COPY,
                     DRIVER_LABEL, DRIVER_PLIST_NAME, LABELS, REGULAR_PLISTS, SEMAPHORE, WORKER_RUNNER_PLIST, binds)
from ..trace import Event

#: More reboots than this, asked for by the script itself, is a loop (the TCC bound is 3).
MAX_REQUESTED_REBOOTS = 5
PRESENT = ("created", "moved-here", "renamed", "written")
#: Who runs the bootstrap's copy at boot, by label, as a violation names them.
DAEMONS = {BOOTSTRAP_LABEL: "the bootstrap daemon", DRIVER_LABEL: "the M4 enrolment driver's daemon"}


@dataclass(frozen=True)
class Violation:
    invariant: str  # an invariant's id, or "expect" for a scenario's own expectation
    message: str
    boot: int | None = None
    step: int | None = None
    seq: int | None = None  # the trace event that shows it, when there is one

    def to_json(self) -> dict:
        return {"invariant": self.invariant, "message": self.message, "boot": self.boot, "step": self.step,
                "seq": self.seq}


def step_of(events: list[Event], index: int) -> int | None:
    """The number of the last step at or before events[index]."""
    for event in reversed(events[:index + 1]):
        if "step" in event.data and event.kind in ("step", "call"):
            return event.data["step"]
    return None


def _violation(name: str, message: str, events: list[Event], index: int) -> Violation:
    return Violation(name, message, events[index].boot, step_of(events, index), events[index].seq)


class DiskView:
    """The files the invariants care about, replayed from the trace: which are on disk, and why
    one on disk would still not run (a plist launchd rejects, a file a power cut tore, a label
    disabled in launchd's override database)."""

    def __init__(self) -> None:
        self.daemons: set[str] = set()
        self.semaphore = False
        self.copy = False
        self.driver_copy = False
        self.driver_seen = False  # the host runs under the M4 enrolment driver (its plist or copy seen)
        self.driver_complete = False  # it wrote /var/log/m4-bootstrap-complete: it will not run again
        self.broken: dict[str, str] = {}  # daemon plist name, or a script copy -> why it cannot run
        self.disabled: set[str] = set()  # labels launchd will not start (the override database)

    def apply(self, event: Event) -> None:
        if event.kind == "boot":
            self.daemons = set(event.data.get("daemons", ()))
            self.semaphore = event.data.get("semaphore", False)
            self.copy = event.data.get("bootstrap_copy", self.copy)
            self.driver_copy = event.data.get("driver_copy", self.driver_copy)
            self.driver_seen = self.driver_seen or self.driver_copy or DRIVER_PLIST_NAME in self.daemons
            self.disabled = set(event.data.get("disabled", ()))
            return
        if event.kind == "override":
            (self.disabled.add if event.data["disabled"] else self.disabled.discard)(event.data["label"])
            return
        if event.kind == "torn":
            name = _daemon_name(event.data["path"]) or event.data["path"]
            self.broken[name] = f"the power cut tore it (it came back {event.data['mode']})"
            return
        if event.kind != "file":
            return
        change, path, source = event.data["change"], event.data["path"], event.data.get("from")
        if change == "attributes":  # chmod, chown: still there, perhaps no longer acceptable
            self._judge(path, event)
            return
        for name, here in ((source, False), (path, change in PRESENT)):
            if not name:
                continue
            self.broken.pop(_daemon_name(name) or name, None)
            daemon = _daemon_name(name)
            if daemon is not None:
                (self.daemons.add if here else self.daemons.discard)(daemon)
                if here:
                    self._judge(name, event)
            elif name == SEMAPHORE:
                self.semaphore = here
            elif name == BOOTSTRAP_COPY:
                self.copy = here
            elif name == DRIVER_COPY:
                self.driver_copy = here
            elif name == DRIVER_COMPLETE:
                self.driver_complete = here
        self.driver_seen = self.driver_seen or self.driver_copy or DRIVER_PLIST_NAME in self.daemons

    def _judge(self, path: str, event: Event) -> None:
        daemon = _daemon_name(path)
        if daemon is None:
            return
        verdict = event.data.get("launchd", "ok")
        if verdict == "ok":
            self.broken.pop(daemon, None)
        else:
            self.broken[daemon] = f"launchd rejects it ({verdict})"

    @property
    def bootstrap_registered(self) -> bool:
        return BOOTSTRAP_PLIST_NAME in self.daemons

    @property
    def bootstrap_runnable(self) -> bool:
        """Its plist loads, its label is not disabled, and the script copy it runs is whole."""
        return self._usable(BOOTSTRAP_PLIST_NAME) and self.copy and BOOTSTRAP_COPY not in self.broken

    @property
    def driver_registered(self) -> bool:
        return DRIVER_PLIST_NAME in self.daemons

    @property
    def driver_runnable(self) -> bool:
        """The M4 enrolment driver's daemon will start at the next boot and run run-puppet.sh over
        ssh (it does so at every boot until puppet's Safari and TCC classes have run)."""
        return self._usable(DRIVER_PLIST_NAME) and self.driver_copy and DRIVER_COPY not in self.broken

    @property
    def regular_mechanism(self) -> bool:
        return any(self._usable(name) for name in REGULAR_PLISTS)

    def _starts_by_itself(self, name: str) -> bool:
        """worker-runner is KeepAlive on the semaphore's path, RunAtLoad false: it runs
        run-puppet.sh only once the semaphore exists."""
        return name != WORKER_RUNNER_PLIST or self.semaphore

    @property
    def something_will_run_it(self) -> bool:
        """A mechanism on disk that will run run-puppet.sh at a later boot: the bootstrap, the M4
        enrolment driver's daemon, or a regular one that starts by itself."""
        return self.bootstrap_runnable or self.driver_runnable or any(
            self._usable(name) and self._starts_by_itself(name) for name in REGULAR_PLISTS)

    def _usable(self, name: str) -> bool:
        return name in self.daemons and name not in self.broken and LABELS[name] not in self.disabled

    def _why_not(self, name: str) -> str:
        """Why a plist on disk will not run (it is there: the caller checked)."""
        if name in self.broken:
            return self.broken[name]
        return f"its label {LABELS[name]} is disabled in launchd's override database"

    def why_nothing_runs_it(self) -> str:
        """What is on disk of each mechanism, and why none of it will run run-puppet.sh again."""
        if not self.bootstrap_registered:
            bootstrap = (f"the bootstrap's plist is missing (its script copy {BOOTSTRAP_COPY} is there)"
                         if self.copy else "neither the bootstrap's plist nor its script copy is on disk")
        elif not self._usable(BOOTSTRAP_PLIST_NAME):
            bootstrap = f"the bootstrap's plist is on disk but {self._why_not(BOOTSTRAP_PLIST_NAME)}"
        elif not self.copy:
            bootstrap = f"the bootstrap's plist is on disk but its script copy {BOOTSTRAP_COPY} is missing"
        else:
            bootstrap = f"the bootstrap's script copy {BOOTSTRAP_COPY} is on disk but {self.broken[BOOTSTRAP_COPY]}"
        driver = [self._why_not_driver()] if self.driver_seen else []
        regular = []
        for name in REGULAR_PLISTS:
            if name not in self.daemons:
                continue
            if not self._usable(name):
                regular.append(f"{name} is on disk but {self._why_not(name)}")
            else:
                regular.append(f"{name} is on disk but waits for the semaphore {shown(SEMAPHORE)}, which is not there")
        return "; ".join([bootstrap, *driver, *(regular or ["no regular mechanism is on disk"])])

    def _why_not_driver(self) -> str:
        """Why the M4 enrolment driver's daemon will not run run-puppet.sh at the next boot."""
        if not self.driver_registered:
            done = f" (it wrote {shown(DRIVER_COMPLETE)}: it is done)" if self.driver_complete else ""
            return (f"the M4 enrolment driver's plist is gone{done}" if not self.driver_copy else
                    f"the M4 enrolment driver's plist is missing (its script copy {DRIVER_COPY} is there)")
        if not self._usable(DRIVER_PLIST_NAME):
            return f"the M4 enrolment driver's plist is on disk but {self._why_not(DRIVER_PLIST_NAME)}"
        if not self.driver_copy:
            return f"the M4 enrolment driver's plist is on disk but its script copy {DRIVER_COPY} is missing"
        return f"the M4 enrolment driver's script copy {DRIVER_COPY} is on disk but {self.broken[DRIVER_COPY]}"

    @property
    def handed_over(self) -> bool:
        """The regular mechanism has the host: the semaphore, a regular plist, and neither
        self-registering daemon (the bootstrap's, the M4 enrolment driver's) left."""
        return (self.semaphore and self.regular_mechanism and not self.bootstrap_registered
                and not self.driver_registered)


def shown(path: str) -> str:
    """A canonical path as a macOS user writes it: /private/var/tmp/x is /var/tmp/x."""
    for alias in ("/var/", "/etc/", "/tmp/"):
        if path.startswith("/private" + alias):
            return path[len("/private"):]
    return path


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
                                         ("the bootstrap script copy still on disk", view.copy),
                                         ("the M4 enrolment driver's plist still on disk", view.driver_registered),
                                         ("the M4 enrolment driver's script copy still on disk", view.driver_copy))
                if wrong]
    if problems:
        yield _violation("converges", "not handed over at the end: " + ", ".join(problems),
                         events, len(events) - 1)


def no_overlap(events: list[Event]) -> Iterable[Violation]:
    """Never two puppet applies at once, whoever started them (the bootstrap's daemon, the M4
    enrolment driver's over ssh, the regular mechanism, an operator)."""
    running: dict[int, Event] = {}  # apply number -> its start, until it ends or the boot does
    for index, event in enumerate(events):
        if event.kind == "boot":
            running.clear()
        elif event.kind == "puppet-apply-done":
            running.pop(event.data["number"], None)
        elif event.kind == "puppet-apply":
            if event.data.get("overlapping"):
                others = ", ".join(f"apply {number} (pid {other.pid}, {other.job})"
                                   for number, other in sorted(running.items()))
                yield _violation("no-overlap", f"puppet apply {event.data['number']} started while another "
                                               f"was still running (pid {event.pid}, {event.job})"
                                               + (f": {others}" if others else ""), events, index)
            running[event.data["number"]] = event


def never_stranded(events: list[Event]) -> Iterable[Violation]:
    """Before handover, no boot ends with nothing on disk that will run the bootstrap again.

    Judged as the next boot begins (what a power cut tore is known by then, and the boot event
    lists what is on disk), or at the end of the run."""
    view = DiskView()
    started = False
    for index, event in enumerate(events):
        next_boot = event.kind == "boot" and started
        view.apply(event)
        if next_boot or index == len(events) - 1:
            if started and not view.handed_over and not view.something_will_run_it:
                ended = event.boot - 1 if next_boot else event.boot
                yield _violation("never-stranded", f"boot {ended} ended before handover with nothing on disk "
                                                   f"that will run the bootstrap again: "
                                                   f"{view.why_nothing_runs_it()}", events,
                                 index - 1 if next_boot else index)
                return
        started = started or event.kind == "process-start"


#: What says "this host is ready": the worker semaphore (the bootstrap and the M4 enrolment driver
#: both write it) and the driver's mark that its enrolment is complete.
READY_MARKS = {SEMAPHORE: "the semaphore", DRIVER_COMPLETE: f"the M4 enrolment driver's mark {DRIVER_COMPLETE}"}


def semaphore_truthful(events: list[Event]) -> Iterable[Violation]:
    """The semaphore (and the M4 enrolment driver's completion mark) is never written before a
    clean apply, by whoever writes it; the message names the writer."""
    clean = False
    for index, event in enumerate(events):
        if event.kind == "puppet-apply-done" and event.data["clean"]:
            clean = True
        elif (event.kind == "file" and event.data["path"] in READY_MARKS and event.data["change"] in PRESENT
              and not clean):
            writer = DAEMONS.get(event.job, event.job or "the world")
            yield _violation("semaphore-truthful", f"{READY_MARKS[event.data['path']]} was written before any clean "
                                                   f"puppet apply (by {writer}, pid {event.pid})", events, index)
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
    """After handover, later boots run the regular mechanism only: neither the bootstrap's daemon
    nor the M4 enrolment driver's."""
    view = DiskView()
    handed_over_in: int | None = None
    for index, event in enumerate(events):
        view.apply(event)
        if handed_over_in is None and view.handed_over:
            handed_over_in = event.boot
        if (handed_over_in is not None and event.boot > handed_over_in and event.kind == "job-started"
                and event.job in DAEMONS):
            yield _violation("single-mechanism", f"{DAEMONS[event.job]} ran again in boot {event.boot}, after "
                                                 f"the handover in boot {handed_over_in}", events, index)
            return


INVARIANTS: dict[str, Callable[[list[Event]], Iterable[Violation]]] = {
    "converges": converges, "no-overlap": no_overlap, "never-stranded": never_stranded,
    "semaphore-truthful": semaphore_truthful, "launchd-accepts": launchd_accepts,
    "no-reboot-loop": no_reboot_loop, "single-mechanism": single_mechanism,
}
#: The contract each invariant belongs to (fleet.CONTRACTS): a script is held to those it claims.
#: Handing over, never being stranded and one mechanism after handover are the reboot-survivable
#: change's promises; the rest every fleet bootstrap must keep.
CONTRACT = {"converges": "reboot-survivable", "no-overlap": "any", "never-stranded": "reboot-survivable",
            "semaphore-truthful": "any", "launchd-accepts": "any", "no-reboot-loop": "any",
            "single-mechanism": "reboot-survivable"}


def check(events: list[Event], *, off: Iterable[str] = (), claims: str = CONTRACTS[-1]) -> list[Violation]:
    """Every violation of every invariant that binds a script claiming `claims` and is not
    switched off, in invariant order."""
    skipped = set(off)
    return [v for name, invariant in INVARIANTS.items()
            if name not in skipped and binds(CONTRACT[name], claims) for v in invariant(events)]
