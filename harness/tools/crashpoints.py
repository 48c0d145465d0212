"""Where exploration cuts the power: one crash point per distinct persistent state of a run.

A crash before step k leaves the disk as the steps before k left it, so crash points between
which nothing persistent changed (nothing outside /tmp and /var/run, which boot empties, and
/var/log, which no bootstrap reads back) lead to the same state: only the first of each is a
crash point. A file written in the last `unflushed_s` simulated seconds before the cut, and not
renamed into place since, may come back empty (macos-behaviour.md §9b): for each such file there
is one crash point more, with that file torn. Cuts inside a command (cuts.py) add a crash point
per change the command makes to the persistent disk.

`PointFinder` follows a run's trace as it grows (the reference run of explore, which forks a
crash run at each point as it is found) or a finished trace (`crash_points`): both give the
same points in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..fleet import BOOTSTRAP_PLIST, BOOTSTRAP_PLIST_NAME
from ..mac.unflushed import Unflushed
from ..trace import Event

EPHEMERAL = ("/private/tmp/", "/private/var/run/")
#: Logs are written all the time and read back by no bootstrap: a change there alone is not a
#: new state worth a crash run, and a torn log line breaks nothing.
UNREAD = ("/private/var/log/",)


@dataclass(frozen=True)
class CrashPoint:
    step: int
    boot: int
    line: str  # FILE:LINE of the step (or the shim call's command)
    tear: tuple[str, ...] = ()  # files that come back empty
    #: A cut inside the step's command (cuts.py): after this many of its changes to the disk.
    changes: int = 0
    command: str = ""  # that command, as the trace names it
    written: tuple[str, ...] = ()  # its changes by then, as "created PATH", "renamed A -> B", ...

    @property
    def faults(self) -> int:
        return 1 + len(self.tear)

    @property
    def order(self) -> tuple:
        """Earliest first; at one step, the cut before it, then those inside it; then fewer faults."""
        return (self.step, self.changes, self.faults, self.tear)

    def describe(self) -> str:
        torn = f" tearing {', '.join(self.tear)}" if self.tear else ""
        if self.changes:
            return (f"power loss in step {self.step} after {self.changes} change(s) by {self.command}"
                    f" ({'; '.join(self.written[-3:])}){torn}")
        return f"power loss before step {self.step}{torn}"

    def to_json(self) -> dict:
        point = {"step": self.step, "boot": self.boot, "line": self.line, "torn": list(self.tear)}
        if self.changes:
            point.update(changes=self.changes, command=self.command, written=list(self.written))
        return point

    @classmethod
    def from_json(cls, data: dict) -> "CrashPoint":
        return cls(data["step"], data["boot"], data["line"], tuple(data["torn"]), data.get("changes", 0),
                   data.get("command", ""), tuple(data.get("written", ())))


class PointFinder:
    """The crash points of a run, found as its trace grows."""

    def __init__(self, unflushed_s: float) -> None:
        self._unflushed_s = unflushed_s
        self._unflushed = Unflushed()
        self._seen: set[tuple] = set()
        self._changes = 0  # persistent changes so far: with the boot, names a state
        self._fed = 0

    def feed(self, events: list[Event], end: int | None = None) -> None:
        """Takes in the events of `events[:end]` not seen yet (the trace so far)."""
        end = len(events) if end is None else end
        for index in range(self._fed, end):
            event = events[index]
            if event.kind == "boot":
                self._unflushed.flush()
            elif event.kind == "file":
                path = event.data["path"]
                if not path.startswith(UNREAD):
                    self._unflushed.note_event(event.data, event.t_s)
                if not path.startswith(EPHEMERAL + UNREAD):
                    self._changes += 1
        self._fed = max(self._fed, end)

    def at_step(self, step: int, boot: int, t_s: float, where: str) -> list[CrashPoint]:
        """The new crash points just before `step`: the cut, and one per file it could tear."""
        points = []
        for tear in [(), *((path,) for path in self._unflushed.recent(t_s, self._unflushed_s))]:
            state = (boot, self._changes, tear)
            if state not in self._seen:
                self._seen.add(state)
                points.append(CrashPoint(step, boot, where, tear))
        return points

    def inside(self, step: int, boot: int, where: str, changes: int, command: str,
               written: tuple[str, ...]) -> CrashPoint | None:
        """The crash point inside `step` once its command(s) made `changes` changes (cuts.py
        counts them), `written` the persistent ones: None when they made none yet (that is the
        state before the step) or when this state was reached before."""
        state = (step, len(written))
        if not written or state in self._seen:
            return None
        self._seen.add(state)
        return CrashPoint(step, boot, where, (), changes, command, written)


def where(event: Event) -> str:
    """How a crash point names its step: FILE:LINE, or the shim call's command."""
    if event.kind == "step":
        return f"{event.data['file']}:{event.data['line']}"
    return f"$ {' '.join(event.data['argv'])[:80]}"


def crash_points(events: Iterable[Event], unflushed_s: float = 5.0) -> tuple[list[CrashPoint], int]:
    """(one crash point per distinct persistent state, the number of steps) of a finished run
    (the cuts before steps: cuts inside commands are found while the run runs)."""
    events = list(events)
    finder, points, steps = PointFinder(unflushed_s), [], 0
    for index, event in enumerate(events):
        step = event.data.get("step") if event.kind in ("step", "call") else None
        if step is None:
            continue
        finder.feed(events, index)
        steps = max(steps, step)
        points += finder.at_step(step, event.boot, event.t_s, where(event))
    return points, steps


def steps_of(events: Iterable[Event]) -> int:
    return max((e.data.get("step", 0) for e in events if e.kind in ("step", "call")), default=0)


def registration_step(events: list[Event]) -> int | None:
    """The first step after which the bootstrap's plist is on disk, in the reference run."""
    step = None
    for event in events:
        if event.kind in ("step", "call"):
            step = event.data.get("step", step)
        if (event.kind == "file" and event.data["path"] == BOOTSTRAP_PLIST
                and event.data["change"] in ("created", "moved-here", "renamed", "written")):
            return (step or 0) + 1
        if event.kind == "boot" and BOOTSTRAP_PLIST_NAME in event.data.get("daemons", ()):
            return 0
    return None
