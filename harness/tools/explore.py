"""Crash-point exploration: power loss at every distinct persistent state of a scenario's run,
every invariant checked after the Mac boots again.

A reference run lists the crash points (crashpoints.py: one per distinct persistent state, one
more per file a cut there could tear, one per change a command makes to the disk when cuts
inside commands are on). Each crash point's run cuts the power there, lets the Mac boot again
and run on to the scenario's limits, and checks the invariants.

A crash run starts from a snapshot, not from power-on: the reference run forks at the moment of
each crash point, with a copy of its disk (mac/snapshot.py, crashruns.py), and the fork only
cuts the power and boots again. That gives what a replay from power-on to the same step gives
(`method="replay"` still runs them that way, and a test compares both), at the cost of what
runs after the cut alone.

When the run without a cut already breaks invariants, that comes first (with its first cause),
and a crash point that breaks only those same invariants adds nothing: it is counted, not listed.
The failures the cuts add are grouped by cause: the invariant and the first thing that went wrong
after the power came back (a torn file, a plist launchd refused, a command that failed on what
the cut left), not by every script line that reaches it. Each group is shown by its smallest
reproduction (earliest point, then fewest torn files), with the command that replays it and the
timeline of that run from the boot of the power cut. A time budget explores the earliest
points first and reports what was left; shards (`shard=(I, N)`) explore a fixed 1/N of the points
each, and `merge` joins their reports into the one an unsharded run writes.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import Interrupted
from ..fleet import CONTRACTS
from ..mac.confine import remove_tree, temporary_folder
from ..mac.cuts import Change, CutsUnavailable, cause as cut_cause
from ..mac.machine import RunResult
from ..mac.snapshot import scratch_dir
from ..scenarios import Scenario, script_identity
from ..scenarios.build import build
from ..scenarios.causes import first_cause, what_went_wrong
from ..scenarios.run import check_invariants
from .crashpoints import UNREAD, CrashPoint, PointFinder, registration_step, steps_of
from .crashpoints import crash_points  # noqa: F401  (where the quality tests find it)
from .crashruns import ForkedRuns, PointRun, Work
from .report import timeline
from .suite import crash_options

#: How much of a failure's timeline the terminal report shows (--json keeps all of it).
TIMELINE_LINES = 40
#: Before the bootstrap has registered itself, a power cut loses it for good: MDM does not run a
#: script-job again, an ssh session is gone. That is the start mechanism's limit, not a defect of
#: the script, so these invariants are not held against crash points before registration.
#: A scenario in which the bootstrap never registers (a host already handed over) has no such
#: window: there, every crash point is held to every invariant.
UNAVOIDABLE_BEFORE_REGISTRATION = ("converges", "never-stranded")


@dataclass
class Failure:
    invariant: str
    message: str
    point: CrashPoint
    replay: str
    also_at: list[int] = field(default_factory=list)
    timeline: str = ""  # of the smallest reproduction, from the crash on
    cause: str = ""  # what went wrong first after the cut (the group's key with the invariant)

    def to_json(self) -> dict:
        found = {"invariant": self.invariant, "cause": self.cause, "message": self.message, "line": self.point.line,
                 "step": self.point.step, "boot": self.point.boot, "torn": list(self.point.tear),
                 "faults": self.point.faults, "replay": self.replay, "timeline": self.timeline,
                 "same_failure_at_steps": self.also_at}
        if self.point.changes:
            found["cut"] = {"changes": self.point.changes, "command": self.point.command,
                            "written": list(self.point.written)}
        return found


@dataclass
class Exploration:
    """What an exploration (or a shard of one, or shards merged) found."""

    scenario: str
    scenario_path: str
    script: dict  # path and sha256
    seed: int
    steps: int
    points: list[CrashPoint]  # every crash point of the scenario, in order
    runs: dict[int, PointRun]  # by point number: what each crash run explored here found
    registered_at_step: int | None = None
    wall_s: float = 0.0
    shard: tuple[int, int] = (1, 1)
    budget_s: float | None = None
    note: str = ""  # what this host could not do (cuts inside commands)
    failures: list[Failure] = field(default_factory=list)
    lost_before_registration: int = 0  # crash points after which nothing could resume
    partial: bool = False  # interrupted (SIGINT, SIGTERM): the crash runs that had finished
    claims: str = CONTRACTS[-1]  # what the script claims: the invariants held against it
    #: The run without any cut: the invariants it already breaks, and its first cause.
    uncut: list[tuple[str, str]] = field(default_factory=list)
    uncut_cause: str = ""
    as_uncut: int = 0  # crash points that break only what the run without a cut breaks

    def __post_init__(self) -> None:
        self.failures, self.lost_before_registration, self.as_uncut = _group(self)

    def mine(self, index: int) -> bool:
        """This shard's point?"""
        return index % self.shard[1] == self.shard[0] - 1

    @property
    def left(self) -> list[int]:
        """The numbers of this shard's points not explored (the budget ran out)."""
        return [i for i in range(len(self.points)) if self.mine(i) and i not in self.runs]

    @property
    def torn_points(self) -> int:
        return sum(1 for point in self.points if point.tear)

    @property
    def inside_commands(self) -> int:
        return sum(1 for point in self.points if point.changes)

    @property
    def failed(self) -> bool:
        """Something broke: with a cut, or already without one."""
        return bool(self.failures or self.uncut)

    @property
    def errors(self) -> list[PointRun]:
        return [run for _, run in sorted(self.runs.items()) if run.error]

    def to_json(self) -> dict:
        whole = len(self.points) - self.torn_points - self.inside_commands
        found = {"scenario": self.scenario, "scenario_path": self.scenario_path, "script": self.script,
                 "seed": self.seed, "steps": self.steps, "crash_points": len(self.points),
                 "distinct_states": len(self.points), "with_a_torn_file": self.torn_points,
                 "inside_commands": self.inside_commands, "covered_by_an_equal_state": self.steps - whole,
                 "registered_at_step": self.registered_at_step, "claims": self.claims,
                 "uncut": {"violations": [list(v) for v in self.uncut], "first_cause": self.uncut_cause},
                 "lost_before_registration": self.lost_before_registration,
                 "failing_as_without_a_cut": self.as_uncut,
                 "failures": [f.to_json() for f in self.failures],
                 "points": [{**point.to_json(), "violations": [list(v) for v in self.runs[i].violations],
                             **({"timeline": self.runs[i].timeline} if self.runs[i].timeline else {}),
                             **({"cause": self.runs[i].cause} if self.runs[i].cause else {}),
                             **({"error": self.runs[i].error} if self.runs[i].error else {})}
                            if i in self.runs else {**point.to_json(), "explored": False}
                            for i, point in enumerate(self.points)],
                 "left": self.left, "wall_s": round(self.wall_s, 2)}
        if self.shard != (1, 1):
            found["shard"] = f"{self.shard[0]}/{self.shard[1]}"
        if self.budget_s is not None:
            found["budget_s"] = self.budget_s
        if self.note:
            found["note"] = self.note
        if self.partial:
            found["partial"] = True
        return found

    @classmethod
    def from_json(cls, data: dict) -> "Exploration":
        points = [CrashPoint.from_json(p) for p in data["points"]]
        runs = {i: PointRun(i, points[i], [tuple(v) for v in p["violations"]], p.get("timeline", ""),
                            p.get("error", ""), p.get("cause", ""))
                for i, p in enumerate(data["points"]) if p.get("explored", True)}
        shard = tuple(int(n) for n in data.get("shard", "1/1").split("/"))
        uncut = data.get("uncut", {})
        return cls(data["scenario"], data["scenario_path"], data["script"], data["seed"], data["steps"], points,
                   runs, data["registered_at_step"], data["wall_s"], shard, data.get("budget_s"), data.get("note", ""),
                   claims=data.get("claims", CONTRACTS[-1]), uncut=[tuple(v) for v in uncut.get("violations", [])],
                   uncut_cause=uncut.get("first_cause", ""))


def merge(shards: list[dict]) -> Exploration:
    """The shards' reports (to_json) as one: the report an unsharded exploration writes, when
    no shard ran out of budget."""
    first = shards[0]
    for other in shards[1:]:
        for key in ("scenario", "script", "seed", "steps", "crash_points", "claims"):
            if other[key] != first[key]:
                raise ValueError(f"the shards explored different runs: {key} is {first[key]!r} in one "
                                 f"report and {other[key]!r} in another; merge reports of one scenario, "
                                 f"script and seed")
    parts = [Exploration.from_json(data) for data in shards]
    runs = {index: run for part in parts for index, run in part.runs.items()}
    return Exploration(first["scenario"], first["scenario_path"], first["script"], first["seed"], first["steps"],
                       parts[0].points, runs, first["registered_at_step"], max(p.wall_s for p in parts),
                       note=parts[0].note, claims=parts[0].claims, uncut=parts[0].uncut,
                       uncut_cause=parts[0].uncut_cause)


def _group(exploration: Exploration) -> tuple[list[Failure], int, int]:
    """The distinct failures the cuts add (by invariant and cause), the crash points before
    registration that nothing could resume, and the crash points that break only what the run
    without a cut breaks. Depends on what each point's run found, not on which ran first."""
    groups: dict[tuple[str, str], Failure] = {}
    lost = as_uncut = 0
    registered_at = exploration.registered_at_step
    already = {invariant for invariant, _ in exploration.uncut}
    for index in sorted(exploration.runs):
        run = exploration.runs[index]
        point, violations = exploration.points[index], run.violations
        if registered_at is not None and point.step < registered_at:
            kept = [v for v in violations if v[0] not in UNAVOIDABLE_BEFORE_REGISTRATION]
            lost += len(kept) != len(violations)
            violations = kept
        added = [v for v in violations if v[0] not in already]
        as_uncut += bool(violations) and not added
        for invariant, message in added:
            key = (invariant, run.cause or message)
            known = groups.get(key)
            if known is None or point.order < known.point.order:
                groups[key] = Failure(invariant, message, point, _replay(exploration, point), [], run.timeline,
                                      run.cause)
                if known is not None:
                    groups[key].also_at = sorted(known.also_at + [known.point.step])
            else:
                known.also_at = sorted(known.also_at + [point.step])
    failures = sorted(groups.values(), key=lambda f: (f.point.order, f.invariant))
    return failures, lost, as_uncut


def _replay(exploration: Exploration, point: CrashPoint) -> str:
    cut = " ".join(crash_options(point.step, point.changes, {path: "empty" for path in point.tear}))
    claims = f" --claims {exploration.claims}" if exploration.claims != CONTRACTS[-1] else ""
    return (f"macsim run --script {exploration.script['path']}{claims} --seed {exploration.seed} "
            f"{cut} {exploration.scenario_path}")


@dataclass(frozen=True)
class Plan:
    """What to explore and how (the options of `explore`)."""

    jobs: int = 1
    seed: int | None = None
    select: Callable[[CrashPoint], bool] | None = None
    shard: tuple[int, int] = (1, 1)
    deadline: float | None = None  # monotonic seconds
    cuts: bool = True
    keep_traces: Path | None = None
    claims: str = CONTRACTS[-1]

    def mine(self, index: int) -> bool:
        return index % self.shard[1] == self.shard[0] - 1

    def keeps(self, point: CrashPoint) -> bool:
        return self.select is None or self.select(point)


def explore(scenario: Scenario, script: Path, *, jobs: int = 1, seed: int | None = None, progress=sys.stderr,
            select: Callable[[CrashPoint], bool] | None = None, budget_s: float | None = None,
            shard: tuple[int, int] = (1, 1), cuts: bool = True, method: str = "fork",
            keep_traces: Path | None = None, claims: str = CONTRACTS[-1]) -> Exploration:
    """Explores the scenario's crash points (or those `select` keeps; this shard's 1/N of them),
    earliest first, until `budget_s` real seconds have passed. `cuts`: crash points inside
    commands too (mac/cuts.py). `method` "replay" runs each from power-on instead of from a
    snapshot (slower; the results are the same); `keep_traces` keeps each crash run's trace.
    `claims`: what the script claims to be (fleet.CONTRACTS); the invariants of that claim and
    the scenario's own rules ([invariants]) judge every run."""
    started = time.monotonic()
    plan = Plan(jobs, seed, select, shard, None if budget_s is None else started + budget_s, cuts, keep_traces,
                claims)
    way, note = _by_replay if method == "replay" else _by_fork, ""
    used_seed = scenario.seed if seed is None else seed
    try:
        try:
            points, steps, registered_at, runs, uncut = way(scenario, script, plan, progress)
        except CutsUnavailable as refused:  # at the first boot, before any crash run
            note = f"no cuts inside commands: {refused}"
            points, steps, registered_at, runs, uncut = way(scenario, script, replace(plan, cuts=False), progress)
    except Interrupted as stop:
        if hasattr(stop, "found"):  # what the crash runs that had finished found
            stop.exploration = Exploration(scenario.name, str(scenario.path), script_identity(script), used_seed,
                                           *stop.found, time.monotonic() - started, shard, budget_s, note=note,
                                           partial=True, claims=claims)
        raise
    return Exploration(scenario.name, str(scenario.path), script_identity(script), used_seed, steps, points, runs,
                       registered_at, time.monotonic() - started, shard, budget_s, note=note, claims=claims,
                       uncut=uncut[0], uncut_cause=uncut[1])


def _by_fork(scenario: Scenario, script: Path, plan: Plan, progress):
    """The crash runs forked from the reference run as it finds their points (crashruns.py)."""
    scratch = scratch_dir("macsim-explore-")
    try:
        stage = build(scenario, script.read_bytes(), script.name, scratch / "reference", seed=plan.seed)
        machine = stage.machine

        def move_world(old: Path, new: Path) -> None:
            stage.github.root = new / stage.github.root.relative_to(old)

        runner = ForkedRuns(jobs=plan.jobs, work=Work(_judge(scenario, plan.claims), _crash_timeline, _cause, move_world,
                                                         plan.keep_traces),
                            scratch=scratch, deadline=plan.deadline)
        points: list[CrashPoint] = []
        meter = _Progress(scenario.name, progress)

        def submit(found: list[CrashPoint], cause: str) -> None:
            kept = [point for point in found if plan.keeps(point)]
            numbered = [(len(points) + n, point) for n, point in enumerate(kept)]
            points.extend(kept)
            mine = [(i, p) for i, p in numbered if plan.mine(i)]
            if mine and not runner.over_budget():
                machine.scheduler.extend_deadline(runner.submit(machine, mine, cause))
            runner.service()
            meter.show(runner.forks, len(points))

        _follow(machine, plan.cuts, submit)
        try:
            reference = machine.run()
            runs = runner.finish()
        except Interrupted as stop:
            events = machine.trace.events
            stop.found = (steps_of(events), points, runner.abort(), registration_step(events))
            raise
        meter.done(len(runs), len(points))
        events = reference.trace.events
        return points, steps_of(events), registration_step(events), runs, _uncut(scenario, reference, plan.claims)
    finally:
        remove_tree(scratch)


def _follow(machine, cuts: bool, found: Callable[[list[CrashPoint], str], None]) -> None:
    """Has the reference run tell `found` the crash points of each moment as it reaches them,
    with the cause a crash run there records: before each step, and inside commands (`cuts`)."""
    finder = PointFinder(machine.config.unflushed_s)
    step = {"where": "", "written": []}  # the step in progress, and its persistent changes so far

    def before_grant(request) -> None:
        finder.feed(machine.trace.events)
        step["where"] = (f"{request.source}:{request.line}" if request.kind != "call"
                         else f"$ {' '.join(request.frame.argv)[:80]}")
        step["written"] = []
        found(finder.at_step(machine.steps, machine.boot_count, machine.clock.now_s, step["where"]),
              f"injected before step {machine.steps}")

    def before_change(change: Change, number: int, done: int) -> None:
        point = finder.inside(number, machine.boot_count, step["where"], done, change.command,
                              tuple(step["written"]))
        if point is not None:
            found([point], cut_cause(number, done, change))
        if not (change.path.startswith(UNREAD) or change.to.startswith(UNREAD)):
            step["written"].append(change.describe())

    machine.scheduler.before_grant = before_grant
    if cuts:
        machine.stop_changes()
        machine.scheduler.before_change = before_change


def _judge(scenario: Scenario, claims: str) -> Callable[[RunResult, CrashPoint], list[tuple[str, str]]]:
    return lambda result, point: [(v.invariant, v.message) for v in check_invariants(scenario, result, claims)]


def _uncut(scenario: Scenario, reference: RunResult, claims: str) -> tuple[list[tuple[str, str]], str]:
    """What the run without a cut breaks, and its first cause."""
    violations = check_invariants(scenario, reference, claims)
    cause = first_cause(reference.trace.events, violations)
    return [(v.invariant, v.message) for v in violations], cause.render() if cause else ""


def _cause(result: RunResult, point: CrashPoint) -> str:
    """The first thing that went wrong once the power was cut: what the cut left on the disk
    shows there (a torn file, a plist launchd refused, a command that failed on a lock file)."""
    for event in result.trace.events:
        if event.boot > point.boot or event.kind == "torn":
            wrong = what_went_wrong(event)
            if wrong:
                return wrong[1]
    return ""


def _crash_timeline(result: RunResult, point: CrashPoint) -> str:
    """The timeline of a crash run, from the boot the power was cut in to the end."""
    return timeline(event for event in result.trace.events if event.boot >= point.boot)


def _replay_one(job) -> PointRun:
    """One crash point's run from power-on: the power cut at its step (or in it), its files torn."""
    scenario, script, seed, index, point, keep_traces, claims = job
    with temporary_folder("macsim-crash-") as work:
        machine = build(scenario, script.read_bytes(), script.name, work / "mac", seed=seed).machine
        machine.power_loss_at_step(point.step, point.changes if point.changes else None)
        for path in point.tear:
            machine.tear_at_power_loss(path, "empty")
        result = machine.run()
    violations = _judge(scenario, claims)(result, point)
    if keep_traces is not None:
        (keep_traces / f"{index}.jsonl").write_text("".join(e.to_json() + "\n" for e in result.trace.events))
    return PointRun(index, point, violations, _crash_timeline(result, point) if violations else "", "",
                    _cause(result, point) if violations else "")


def _by_replay(scenario: Scenario, script: Path, plan: Plan, progress):
    """Each crash point run from power-on: the reference run lists them (cuts inside commands
    included), then each is replayed in a pool of processes."""
    noted: list[CrashPoint] = []
    with temporary_folder("macsim-reference-") as work:
        machine = build(scenario, script.read_bytes(), script.name, work / "mac", seed=plan.seed).machine
        _follow(machine, plan.cuts, lambda points, cause: noted.extend(points))
        reference = machine.run()
        events = reference.trace.events
    points = [point for point in noted if plan.keeps(point)]
    jobs = [(scenario, script, plan.seed, i, p, plan.keep_traces, plan.claims)
            for i, p in enumerate(points) if plan.mine(i)]
    runs: dict[int, PointRun] = {}
    meter = _Progress(scenario.name, progress)
    with multiprocessing.get_context("fork").Pool(max(1, plan.jobs)) as pool:
        for run in pool.imap(_replay_one, jobs):
            runs[run.index] = run
            meter.show(len(runs), len(jobs))
            if plan.deadline is not None and time.monotonic() > plan.deadline:
                pool.terminate()
                break
    meter.done(len(runs), len(points))
    return points, steps_of(events), registration_step(events), runs, _uncut(scenario, reference, plan.claims)


class _Progress:
    """`exploring NAME: 100 crash points found, 50 under way, 12 s` on a terminal; one line at the end."""

    def __init__(self, name: str, stream) -> None:
        self._name, self._stream, self._started, self._shown = name, stream, time.monotonic(), 0.0

    def show(self, run: int, found: int) -> None:
        now = time.monotonic()
        if self._stream.isatty() and now - self._shown > 0.2:
            self._shown = now
            print(f"\rexploring {self._name}: {found} crash points found, {run} under way, "
                  f"{now - self._started:.0f} s", end="", file=self._stream, flush=True)

    def done(self, run: int, found: int) -> None:
        end = "\n" if self._stream.isatty() else ""
        print(f"{end}exploring {self._name}: {run} of {found} crash points run, "
              f"{time.monotonic() - self._started:.1f} s", file=self._stream, flush=True)


def render(exploration: Exploration) -> str:
    steps, found = exploration.steps, exploration
    whole = len(found.points) - found.torn_points - found.inside_commands
    inside = f", {found.inside_commands} inside commands" if found.inside_commands else ""
    lines = [f"{found.scenario}: {steps} steps, {len(found.runs)} crash points run of {len(found.points)} (one per "
             f"distinct persistent state, {found.torn_points} of them with a file torn{inside}; "
             f"{steps - whole} steps covered by an equal state), {len(found.failures)} distinct failure(s)"
             f"{' the cuts add' if found.uncut else ''}, {found.wall_s:.1f} s"]
    if found.uncut:
        lines.append(f"  without a power cut the run already fails: {found.uncut_cause}")
        lines += [f"    {invariant}: {message}" for invariant, message in found.uncut]
        lines.append(f"  {found.as_uncut} crash point(s) break only what the run without a cut breaks (not listed "
                     f"below); fix that first: `macsim run --script {found.script['path']} --seed {found.seed} "
                     f"{found.scenario_path}`")
    if found.note:
        lines.append(f"  {found.note}")
    if found.partial:
        lines.append(f"  interrupted: {len(found.runs)} crash run(s) had finished, the rest were stopped (partial)")
    if found.shard != (1, 1):
        lines.append(f"  shard {found.shard[0]}/{found.shard[1]}: every {found.shard[1]}th point from the "
                     f"{found.shard[0]}th ({len([i for i in range(len(found.points)) if found.mine(i)])} points); "
                     f"`macsim explore --merge` joins the shards' --json reports")
    if found.left and not found.partial:
        first = found.points[found.left[0]]
        lines.append(f"  {len(found.left)} crash point(s) left unexplored when the budget of {found.budget_s:g} s ran "
                     f"out, from step {first.step} on: give a larger --budget, or shard the exploration")
    for run in found.errors:
        lines.append(f"  macsim failed in the crash run of {run.point.describe()}: {run.error.splitlines()[-1]}")
    if found.lost_before_registration:
        lines.append(f"  {found.lost_before_registration} crash point(s) before the bootstrap registered "
                     f"itself (step {found.registered_at_step}) leave nothing to resume it: the start "
                     f"mechanism's limit (an MDM script-job or an ssh session is not run again), not counted as failures")
    for failure in found.failures:
        cause = f"{failure.cause}: " if failure.cause else ""
        lines.append(f"  {failure.invariant}: {cause}{failure.message}")
        lines.append(f"    first after {failure.point.describe()} (boot {failure.point.boot}, {failure.point.line})")
        if failure.also_at:
            lines.append(f"    the same after {len(failure.also_at)} later crash point(s)")
        lines.append(f"    replay: {failure.replay}")
        shown = failure.timeline.splitlines()
        lines.append("    timeline (from the boot of the power cut):")
        lines += [f"    {line}" for line in shown[:TIMELINE_LINES]]
        if len(shown) > TIMELINE_LINES:
            lines.append(f"      … {len(shown) - TIMELINE_LINES} more lines: add --timeline to the replay command")
    return "\n".join(lines)


def merge_files(paths: list[Path]) -> Exploration:
    """`macsim explore --merge A.json B.json …`: the shards' --json reports as one exploration."""
    return merge([json.loads(Path(path).read_text()) for path in paths])
