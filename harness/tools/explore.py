"""Crash-point exploration: power loss before every step of a scenario, every invariant checked.

A reference run lists the steps. A crash before step k leaves the disk as the steps before k
left it, so crash points between which nothing persistent changed (nothing outside /tmp and
/var/run, which boot empties, and /var/log, which no bootstrap reads back) lead to the same
state: only the first of each is run, the rest are reported as covered. Each run cuts the
power before its step, lets the Mac boot again and run on to the scenario's limits, and checks
the invariants. Failures are grouped by (invariant, script line of the crash point); each
group is shown by its smallest reproduction (earliest step, then fewest torn files), with the
command that replays it and the timeline of that run from the boot of the power cut.

Torn writes (macos-behaviour.md §9b): a file written in the last `unflushed_s` simulated
seconds before the cut, and not renamed into place since, may come back empty. For each such
file a crash point is also run with that one file torn (one fault more), so a failure's
smallest reproduction is the earliest step with the fewest torn files.
"""
from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..fleet import BOOTSTRAP_PLIST, BOOTSTRAP_PLIST_NAME
from ..mac.unflushed import Unflushed
from ..scenarios import Scenario, ScenarioRun, run_scenario, script_identity
from ..trace import Event
from .report import timeline

#: How much of a failure's timeline the terminal report shows (--json keeps all of it).
TIMELINE_LINES = 40
EPHEMERAL = ("/private/tmp/", "/private/var/run/")
#: Logs are written all the time and read back by no bootstrap: a change there alone is not a
#: new state worth a crash run, and a torn log line breaks nothing.
UNREAD = ("/private/var/log/",)
#: Before the bootstrap has registered itself, a power cut loses it for good: MDM does not run a
#: script-job again, an ssh session is gone. That is the start mechanism's limit, not a defect of
#: the script, so these invariants are not held against crash points before registration.
#: A scenario in which the bootstrap never registers (a host already handed over) has no such
#: window: there, every crash point is held to every invariant.
UNAVOIDABLE_BEFORE_REGISTRATION = ("converges", "never-stranded")


@dataclass(frozen=True)
class CrashPoint:
    step: int
    boot: int
    line: str  # FILE:LINE of the step (or the shim call's command)
    tear: tuple[str, ...] = ()  # files that come back empty

    @property
    def faults(self) -> int:
        return 1 + len(self.tear)

    def describe(self) -> str:
        torn = f" tearing {', '.join(self.tear)}" if self.tear else ""
        return f"power loss before step {self.step}{torn}"


@dataclass
class Failure:
    invariant: str
    message: str
    point: CrashPoint
    replay: str
    also_at: list[int] = field(default_factory=list)
    timeline: str = ""  # of the smallest reproduction, from the crash on

    def to_json(self) -> dict:
        return {"invariant": self.invariant, "message": self.message, "line": self.point.line,
                "step": self.point.step, "boot": self.point.boot, "torn": list(self.point.tear),
                "faults": self.point.faults, "replay": self.replay, "timeline": self.timeline,
                "same_failure_at_steps": self.also_at}


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


def crash_points(events: list[Event], unflushed_s: float = 5.0) -> tuple[list[CrashPoint], int]:
    """(one crash point per distinct persistent state, the number of steps) of a reference run.
    A file written in the last `unflushed_s` before a step adds a crash point that tears it."""
    points, seen_states, steps, changes = [], set(), 0, 0
    unflushed = Unflushed()
    for event in events:
        if event.kind == "boot":
            unflushed.flush()
        if event.kind == "file":
            if not event.data["path"].startswith(UNREAD):
                unflushed.note_event(event.data, event.t_s)
            if not event.data["path"].startswith(EPHEMERAL + UNREAD):
                changes += 1
        step = event.data.get("step") if event.kind in ("step", "call") else None
        if step is None:
            continue
        steps = max(steps, step)
        where = (f"{event.data['file']}:{event.data['line']}" if event.kind == "step"
                 else f"$ {' '.join(event.data['argv'])[:80]}")
        for tear in [(), *((path,) for path in unflushed.recent(event.t_s, unflushed_s))]:
            state = (event.boot, changes, tear)
            if state not in seen_states:
                seen_states.add(state)
                points.append(CrashPoint(step, event.boot, where, tear))
    return points, steps


def _crash_run(scenario: Scenario, script: bytes, name: str, seed: int | None, point: CrashPoint) -> ScenarioRun:
    """The scenario run with the power cut before the point's step, its files torn to empty."""
    with tempfile.TemporaryDirectory(prefix="macsim-crash-") as work:
        return run_scenario(scenario, script, name, Path(work) / "mac", seed=seed, power_loss_at_step=point.step,
                            tears={path: "empty" for path in point.tear})


def _explore_one(job: tuple[Scenario, bytes, str, int | None, CrashPoint]) -> tuple[CrashPoint, list[tuple[str, str]]]:
    point = job[-1]
    return point, [(v.invariant, v.message) for v in _crash_run(*job).violations]


@dataclass
class Exploration:
    scenario: Scenario
    script: Path
    steps: int
    points: list[CrashPoint]
    failures: list[Failure]
    wall_s: float
    registered_at_step: int | None = None
    lost_before_registration: int = 0  # crash points after which nothing could resume

    @property
    def torn_points(self) -> int:
        return sum(1 for point in self.points if point.tear)

    def to_json(self) -> dict:
        return {"scenario": self.scenario.name, "script": script_identity(self.script), "steps": self.steps,
                "crash_points": len(self.points), "distinct_states": len(self.points),
                "with_a_torn_file": self.torn_points,
                "covered_by_an_equal_state": self.steps - (len(self.points) - self.torn_points),
                "registered_at_step": self.registered_at_step,
                "lost_before_registration": self.lost_before_registration,
                "failures": [f.to_json() for f in self.failures], "wall_s": round(self.wall_s, 2)}


def explore(scenario: Scenario, script: Path, *, jobs: int = 1, seed: int | None = None,
            progress=sys.stderr, select: Callable[[CrashPoint], bool] | None = None) -> Exploration:
    """Explores every crash point of the scenario, or those `select` keeps."""
    started = time.monotonic()
    content = script.read_bytes()
    with tempfile.TemporaryDirectory(prefix="macsim-reference-") as work:
        reference = run_scenario(scenario, content, script.name, Path(work) / "mac", seed=seed)
    points, steps = crash_points(reference.result.trace.events, reference.machine.config.unflushed_s)
    if select is not None:
        points = [point for point in points if select(point)]
    registered_at = registration_step(reference.result.trace.events)
    before_registration = 0
    used_seed = scenario.seed if seed is None else seed
    groups: dict[tuple[str, str], Failure] = {}
    work_items = [(scenario, content, script.name, seed, point) for point in points]
    explore_started = time.monotonic()
    context = multiprocessing.get_context("fork")
    with context.Pool(max(1, jobs)) as pool:
        for done, (point, violations) in enumerate(pool.imap_unordered(_explore_one, work_items), 1):
            tty = progress.isatty()
            if tty or done == len(points) or done % max(1, len(points) // 10) == 0:
                print(("\r" if tty else "") + _progress_line(scenario.name, done, len(points), len(groups),
                                                           time.monotonic() - explore_started),
                      end="" if tty else "\n", file=progress, flush=True)
            if registered_at is not None and point.step < registered_at:
                kept = [v for v in violations if v[0] not in UNAVOIDABLE_BEFORE_REGISTRATION]
                before_registration += len(kept) != len(violations)
                violations = kept
            for invariant, message in violations:
                key = (invariant, point.line)
                tears = "".join(f" --tear {path}" for path in point.tear)
                replay = (f"macsim run --script {script} --seed {used_seed} --power-loss-at-step {point.step}"
                          f"{tears} {scenario.path}")
                known = groups.get(key)
                if known is None or (point.step, point.faults) < (known.point.step, known.point.faults):
                    groups[key] = Failure(invariant, message, point, replay,
                                          (known.also_at + [known.point.step]) if known else [])
                else:
                    known.also_at.append(point.step)
    if progress.isatty():
        print(file=progress)
    failures = sorted(groups.values(), key=lambda f: (f.point.step, f.invariant))
    for failure in failures:
        failure.timeline = _timeline_of(scenario, content, script.name, seed, failure.point)
    return Exploration(scenario, script, steps, points, failures, time.monotonic() - started,
                       registered_at, before_registration)


def _timeline_of(scenario: Scenario, script: bytes, name: str, seed: int | None, point: CrashPoint) -> str:
    """The timeline of one crash run, from the boot the power was cut in to the end."""
    run = _crash_run(scenario, script, name, seed, point)
    return timeline(event for event in run.result.trace.events if event.boot >= point.boot)


def _progress_line(name: str, done: int, total: int, failures: int, elapsed_s: float) -> str:
    """`exploring NAME [#####.....] 50/100 crash points, 1 distinct failure, about 2 min left`"""
    width = 20
    filled = width * done // max(total, 1)
    left_s = elapsed_s / done * (total - done) if done else 0.0
    left = f"about {left_s / 60:.0f} min left" if left_s >= 90 else f"about {left_s:.0f} s left"
    return (f"exploring {name} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} crash points, "
            f"{failures} distinct failure{'s' if failures != 1 else ''}, {left if done < total else 'done'}")


def render(exploration: Exploration) -> str:
    lines = [f"{exploration.scenario.name}: {exploration.steps} steps, {len(exploration.points)} crash points "
             f"run (one per distinct persistent state, {exploration.torn_points} of them with a file torn; "
             f"{exploration.steps - (len(exploration.points) - exploration.torn_points)} steps covered by an equal state), "
             f"{len(exploration.failures)} distinct failures, {exploration.wall_s:.1f} s"]
    if exploration.lost_before_registration:
        lines.append(f"  {exploration.lost_before_registration} crash point(s) before the bootstrap registered "
                     f"itself (step {exploration.registered_at_step}) leave nothing to resume it: the start "
                     f"mechanism's limit (an MDM script-job or an ssh session is not run again), not counted as failures")
    for failure in exploration.failures:
        lines.append(f"  {failure.invariant} after {failure.point.describe()} "
                     f"(boot {failure.point.boot}, {failure.point.line}): {failure.message}")
        if failure.also_at:
            lines.append(f"    also at {len(failure.also_at)} later crash point(s) on that line")
        lines.append(f"    replay: {failure.replay}")
        shown = failure.timeline.splitlines()
        lines.append("    timeline (from the boot of the power cut):")
        lines += [f"    {line}" for line in shown[:TIMELINE_LINES]]
        if len(shown) > TIMELINE_LINES:
            lines.append(f"      … {len(shown) - TIMELINE_LINES} more lines: add --timeline to the replay command")
    return "\n".join(lines)
