"""A run's life laid out for its page: boots as bands along simulated time, one lane per job, marks.

The horizontal axis is simulated time, compressed: a whole script can run at one simulated
instant (only `sleep` and waiting move the clock) and then nothing happens for fifteen
minutes. So every mark gets its own slot, in trace order, and the time between two instants
becomes a gap that grows with the logarithm of the seconds; every instant where the clock
moved has a tick with its time. Reading left to right is reading the trace in order.

What becomes one mark: an event the page shows (marks.label), or one a first cause or a
violation points at. Files changed by one job at one instant in a row are one mark (a log
written line by line, a checkout), and so are repeats of one command; a command that waits
(`puppet apply`) and its answer are one mark with a bar to the moment it was answered.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ...trace import Event
from . import marks

SLOT_PX = 16
PAD_PX = 16
BOOT_GAP_PX = 24  # the Mac is off between two boots: a visible break on top of the time gap
TICK_SPACING_PX = 72
HOST_LANE = "the Mac"
VIOLATIONS_LANE = "invariants and expectations"
#: Flags page.js styles and the details panel names (the first cause, a violation's marker).
FIRST_CAUSE_FLAG, VIOLATION_FLAG = "first-cause", "violation"


def gap_px(delta_s: float) -> int:
    """The room the page gives to `delta_s` simulated seconds in which nothing it shows happened."""
    return 0 if delta_s <= 0 else round(12 + 24 * math.log10(1 + delta_s))


@dataclass
class Unit:
    order: float  # where it stands in the trace: an event's seq, a marker's anchor plus a fraction
    lane: int
    boot: int
    t_s: float
    events: list[Event]
    category: str
    label: str
    problem: bool = False
    visible: bool = True  # False: an anchor (an answer) that only ends a bar
    forced: bool = False
    end: Unit | None = None
    waiting: bool = False  # a command still waiting for its answer
    line: str | None = None
    source_line: int | None = None
    x: int = 0
    flags: list[str] = field(default_factory=list)
    extra: list[list[str]] = field(default_factory=list)
    violation: dict | None = None


class Lanes:
    """The Mac's own lane first (boots, launchd's general decisions, the world), then one per job
    in the order jobs first appear; a lane for invariants and expectations on top when needed."""

    def __init__(self, events: list[Event]) -> None:
        self.names: list[str] = [HOST_LANE]
        self.jobs: dict[str | None, int] = {None: 0}
        for event in events:
            if event.job is not None and event.job not in self.jobs:
                self.jobs[event.job] = len(self.names)
                self.names.append(event.job)
        self.violations: int | None = None

    def of(self, event: Event) -> int:
        return self.jobs.get(event.job, 0)

    def violations_lane(self) -> int:
        if self.violations is None:
            self.violations = len(self.names)
            self.names.append(VIOLATIONS_LANE)
        return self.violations


class Builder:
    """Walks the trace once, making the units the page marks (layout() places them)."""

    def __init__(self, events: list[Event], counted_files: set[str], forced: set[int]) -> None:
        self.events = events
        self.counted_files = counted_files
        self.forced = forced
        self.lanes = Lanes(events)
        self.units: list[Unit] = []
        self.by_seq: dict[int, Unit] = {}
        self._last_in_lane: dict[int, Unit] = {}
        self._waiting: dict[tuple[int, int | None], Unit] = {}
        self._where: dict[tuple[int, str | None], tuple[str, str]] = {}

    def walk(self) -> None:
        for event in self.events:
            if event.kind == "step":
                self._where[(event.boot, event.job)] = (str(event.data.get("file", "")),
                                                        str(event.data.get("line", "")))
                if event.seq in self.forced:
                    self._add(event, f"step at {self._script_line(event)[0]}", forced=True)
                continue
            forced = event.seq in self.forced
            if not forced and self._answer(event):
                continue
            text = marks.label(event)
            if text is None and not forced:
                continue
            if not forced and self._merge(event, text):
                continue
            unit = self._add(event, text or marks.fallback_label(event), forced=forced)
            if (event.kind == "call" and event.data.get("deferred")) or event.kind == "puppet-apply":
                unit.waiting = True
                self._waiting[(event.boot, event.pid)] = unit

    def _script_line(self, event: Event) -> tuple[str | None, int | None]:
        """FILE:LINE of the job's last step (what its script was running), and that line's number
        in the script under test when the file is one of its copies (coverage.py)."""
        file, line = self._where.get((event.boot, event.job), ("", ""))
        if not line or event.job is None:  # the Mac's own events belong to no script
            return None, None
        number = int(line) if file in self.counted_files and line.isdigit() else None
        return f"{os.path.basename(file) or '(no file)'}:{line}", number

    def _add(self, event: Event, text: str, *, forced: bool) -> Unit:
        lane = self.lanes.of(event)
        unit = Unit(event.seq, lane, event.boot, event.t_s, [event], marks.category(event), text,
                    marks.problem(event), forced=forced)
        unit.line, unit.source_line = self._script_line(event)
        self.units.append(unit)
        self.by_seq[event.seq] = unit
        self._last_in_lane[lane] = unit
        return unit

    def _answer(self, event: Event) -> bool:
        """A command that waits, its puppet apply, the apply's result and the answer are one mark
        (the apply comes first in the trace, then the command); True when the event joined one."""
        waits = event.kind == "call" and event.data.get("deferred")
        if event.kind not in ("puppet-apply", "puppet-apply-done", "call-answered") and not waits:
            return False
        unit = self._waiting.get((event.boot, event.pid))
        if unit is None:
            # An answer to a call the page leaves out (sleep) goes with it; an apply or a
            # command that waits starts a mark of its own.
            return event.kind in ("puppet-apply-done", "call-answered")
        unit.events.append(event)
        self.by_seq[event.seq] = unit
        unit.problem = unit.problem or marks.problem(event)
        status = event.data.get("status")
        if event.kind == "puppet-apply-done":
            unit.label += f" → {status} ({'clean' if event.data.get('clean') else 'not clean'})"
        elif event.kind == "call-answered":
            if unit.label.endswith("→ waits"):
                unit.label = unit.label[:-len("waits")] + str(status)
            unit.waiting = False
            del self._waiting[(event.boot, event.pid)]
            unit.end = Unit(event.seq, unit.lane, event.boot, event.t_s, [event], unit.category, "", visible=False)
            self.units.append(unit.end)
        return True

    def _merge(self, event: Event, text: str) -> bool:
        """Files changed in a row by one job at one instant, or one command repeated, become one mark."""
        previous = self._last_in_lane.get(self.lanes.of(event))
        if (previous is None or previous.forced or previous.waiting or previous.boot != event.boot
                or previous.t_s != event.t_s or previous.events[0].kind != event.kind):
            return False
        if event.kind != "file" and marks.label(previous.events[0]) != text:
            return False
        previous.events.append(event)
        previous.problem = previous.problem or marks.problem(event)
        self.by_seq[event.seq] = previous
        return True


def _group_label(unit: Unit) -> str:
    events = unit.events
    if len(events) == 1 or unit.waiting or unit.end is not None or events[0].kind not in ("file", "call"):
        return unit.label
    if events[0].kind == "file":
        paths = [str(event.data.get("path", "")) for event in events]
        return f"{len(events)} file changes in {os.path.commonpath(paths) if all(paths) else '/'}"
    return f"{unit.label} (x{len(events)})"


def _ending(events: list[Event]) -> tuple[str, str]:
    """Why a boot ended, and what kind of ending it was (for its colour), from that boot's events."""
    for event in reversed(events):
        data = event.data
        if event.kind == "shutdown":
            if event.pid is not None:
                return f"{data.get('how')} requested by {event.job or 'a process'} ({data.get('cause')})", "requested"
            update = "macOS" in str(data.get("cause", ""))
            return f"{data.get('how')}: {data.get('cause')}", "update" if update else "scheduled"
        if event.kind == "power-loss":
            return f"power cut ({data.get('cause')})", "power"
        if event.kind in ("end", "limit", "quiet"):
            return f"run ended: {data.get('verdict')} ({data.get('detail')})", "end"
    return "the trace ends here", "end"


def layout(units: list[Unit], events: list[Event]) -> dict:
    """Positions every unit; the bands of the boots and the ticks of the time axis."""
    x, ticks, bands = PAD_PX, [], {}
    previous: Unit | None = None
    for unit in sorted(units, key=lambda u: u.order):
        if previous is None or unit.boot != previous.boot:
            if previous is not None:
                bands[previous.boot]["x1"] = x
                x += BOOT_GAP_PX + gap_px(unit.t_s - previous.t_s)
            bands[unit.boot] = {"boot": unit.boot, "x0": x, "x1": x}
            ticks.append([x, unit.t_s])
        elif unit.t_s != previous.t_s:
            x += gap_px(unit.t_s - previous.t_s)
            ticks.append([x, unit.t_s])
        unit.x = x
        if unit.visible:
            x += SLOT_PX
        previous = unit
    if previous is not None:
        bands[previous.boot]["x1"] = x
    by_boot: dict[int, list[Event]] = {}
    for event in events:
        by_boot.setdefault(event.boot, []).append(event)
    for number, band in bands.items():
        boot_events = by_boot.get(number, [])
        band["start_s"] = boot_events[0].t_s if boot_events else None
        band["end_s"] = boot_events[-1].t_s if boot_events else None
        band["ended"], band["why"] = _ending(boot_events)
    shown, last_x = [], -TICK_SPACING_PX
    for tick_x, t_s in ticks:
        if tick_x - last_x >= TICK_SPACING_PX:
            shown.append([tick_x, f"{t_s:g} s"])
            last_x = tick_x
    return {"width": x + PAD_PX, "ticks": shown, "boots": [bands[number] for number in sorted(bands)]}


def _span(unit: Unit, bands: dict[int, dict]) -> list[int] | None:
    if unit.end is not None and unit.end.x > unit.x + SLOT_PX:
        return [unit.x, unit.end.x]
    if unit.waiting:  # never answered: cut short by a reboot, or still waiting when the run ended
        return [unit.x, max(bands[unit.boot]["x1"], unit.x + SLOT_PX)]
    return None


def _grouped(unit: Unit) -> bool:
    return len(unit.events) > 1 and len({event.kind for event in unit.events}) == 1


def _details(unit: Unit) -> list[list[str]]:
    """A group shows its first event's details (its members are listed apart); a command joined
    by its apply and answer shows all of theirs, each field once."""
    if unit.violation is not None:  # its anchor event has a mark of its own
        return unit.extra
    pairs: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    for event in unit.events[:1] if _grouped(unit) else unit.events:
        for name, text in marks.details(event):
            if (name, text) not in seen:
                seen.add((name, text))
                taken = any(pair[0] == name for pair in pairs)
                pairs.append([f"{name} ({event.kind})" if taken else name, text])
    return pairs + unit.extra


def _mark_json(number: int, unit: Unit, bands: dict[int, dict]) -> dict:
    first = unit.events[0]
    real = unit.violation is None
    members = [[event.seq, marks.label(event) or event.kind] for event in unit.events] if _grouped(unit) else []
    return {
        "id": f"m{number}", "lane": unit.lane, "x": unit.x, "category": unit.category,
        "label": _group_label(unit), "problem": unit.problem, "flags": unit.flags,
        "span": _span(unit, bands), "unfinished": unit.waiting, "t_s": unit.t_s, "boot": unit.boot,
        "job": first.job if real else None, "pid": first.pid if real else None,
        "seqs": [event.seq for event in unit.events] if real else [],
        "line": unit.line, "source_line": unit.source_line, "details": _details(unit), "members": members,
    }


class Anchors:
    """Where a finding (a violation, a first cause) shows on the timeline: right after its event,
    else right after its step, else at the end of its boot, else at the end of the run."""

    def __init__(self, events: list[Event]) -> None:
        self.by_seq = {event.seq: event for event in events}
        self.step_seqs: dict[int, int] = {}
        self.last_of_boot: dict[int, Event] = {}
        for event in events:
            if event.kind in ("step", "call") and isinstance(event.data.get("step"), int):
                self.step_seqs.setdefault(event.data["step"], event.seq)
            self.last_of_boot[event.boot] = event
        self.last = events[-1]

    def of(self, finding: dict) -> tuple[float, Event]:
        seq, step = finding.get("seq"), finding.get("step")
        if isinstance(seq, int) and seq in self.by_seq:
            return seq + 0.25, self.by_seq[seq]
        if isinstance(step, int) and step in self.step_seqs:
            return self.step_seqs[step] + 0.25, self.by_seq[self.step_seqs[step]]
        event = self.last_of_boot.get(finding.get("boot"), self.last)
        return event.seq + 0.5, event


def _finding(builder: Builder, anchors: Anchors, finding: dict, label: str, extra: list[list[str]]) -> Unit:
    order, anchor = anchors.of(finding)
    unit = Unit(order, builder.lanes.violations_lane(), anchor.boot, anchor.t_s, [anchor], "violation", label,
                problem=True, forced=True, violation=finding, extra=extra)
    builder.units.append(unit)
    return unit


def _violation_marks(builder: Builder, anchors: Anchors, violations: list[dict]) -> list[Unit]:
    found = []
    for violation in violations:
        where = ", ".join(f"{name} {violation[name]}" for name in ("boot", "step") if violation.get(name) is not None)
        unit = _finding(builder, anchors, violation, f"{violation.get('invariant')}: {violation.get('message')}",
                        [["invariant", str(violation.get("invariant"))], ["message", str(violation.get("message"))],
                         ["where", where or "the end of the run"]])
        unit.flags.append(VIOLATION_FLAG)
        found.append(unit)
    return found


def _cause_mark(builder: Builder, anchors: Anchors, cause: dict, violations: list[dict], found: list[Unit]) -> Unit:
    """The mark of the first cause: its event's, else the violation it is, else one of its own."""
    seq = cause.get("seq")
    unit = builder.by_seq.get(seq) if isinstance(seq, int) else None
    if unit is None:
        text = cause.get("text", "")
        same = [mark for mark, violation in zip(found, violations, strict=True)
                if text in (violation.get("message"), f"{violation.get('message')} ({violation.get('invariant')})")]
        unit = same[0] if same else _finding(builder, anchors, cause, str(text),
                                             [["first cause", str(text)], ["kind", str(cause.get("kind"))]])
    unit.flags.append(FIRST_CAUSE_FLAG)
    return unit


def build(events: list[Event], *, first_cause: dict | None, violations: list[dict],
          counted_files: set[str]) -> dict:
    """The timeline part of a run's page: lanes, boots, ticks, marks; which mark is the first
    cause and which marks are the violations (ids, in the order given)."""
    if not events:
        return {"width": 2 * PAD_PX, "ticks": [], "boots": [], "lanes": [HOST_LANE], "marks": [],
                "first_cause": None, "violations": [None] * len(violations)}
    cause_seq = first_cause.get("seq") if first_cause else None
    forced = {seq for seq in [cause_seq, *(v.get("seq") for v in violations)] if isinstance(seq, int)}
    builder = Builder(events, counted_files, forced)
    builder.walk()
    anchors = Anchors(events)
    found = _violation_marks(builder, anchors, violations)
    cause = _cause_mark(builder, anchors, first_cause, violations, found) if first_cause is not None else None
    axis = layout(builder.units, events)
    bands = {band["boot"]: band for band in axis["boots"]}
    visible = sorted((unit for unit in builder.units if unit.visible), key=lambda u: u.order)
    ids = {id(unit): f"m{number}" for number, unit in enumerate(visible)}
    for band in axis["boots"]:
        band["mark"] = next((ids[id(u)] for u in visible if u.boot == band["boot"] and u.violation is None
                             and u.events[0].kind == "boot"), None)
    return {**axis, "lanes": builder.lanes.names,
            "marks": [_mark_json(number, unit, bands) for number, unit in enumerate(visible)],
            "first_cause": ids[id(cause)] if cause is not None else None,
            "violations": [ids[id(unit)] for unit in found]}
