"""Crash runs forked from the reference run, a few at a time, earliest first (mac/snapshot.py).

At each moment where the reference run finds crash points, `ForkedRuns.submit` copies the
machine's folder and forks. The fork waits until a core is free (`jobs` run at once, in the
order they were forked), then cuts the power in its copy, runs the Mac to the end of the
scenario, judges the run and writes what it found to `RESULTS/NUMBER.json`. The points of one
moment (the cut, and the same cut with a file torn) share the copy: the fork runs them one
after the other, each but the last in a fork of its own, on a copy of the copy.

A time budget stops it: a fork that would start after the deadline does not run, and its
points are left. The reference run goes on to the end, so that what is left is known.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..mac import snapshot
from ..mac.bounds import remove_stale
from ..mac.confine import remove_tree
from ..mac.machine import Machine, RunResult
from . import interrupts
from .runs import sweep_own
from .crashpoints import CrashPoint

#: How many forks may wait for a core before the reference run waits for them: each holds a
#: copy of the disk and a copy-on-write image of the controller.
WAITING_PER_JOB = 4
_PR_SET_PDEATHSIG = 1


@dataclass
class PointRun:
    """What one crash run found."""

    index: int
    point: CrashPoint
    violations: list[tuple[str, str]]
    timeline: str = ""  # from the boot of the cut, when something failed
    error: str = ""  # macsim itself failed during the run (a traceback)
    cause: str = ""  # the first thing that went wrong after the cut, when something failed


@dataclass
class Work:
    """What a crash run does once the power is cut: judge the run (invariants), show its timeline,
    and move the world's own folders (GitHub's repositories) along with the machine's."""

    judge: Callable[[RunResult, CrashPoint], list[tuple[str, str]]]
    timeline: Callable[[RunResult, CrashPoint], str]
    cause: Callable[[RunResult, CrashPoint], str]
    move_world: Callable[[Path, Path], None]
    keep_traces: Path | None = None


class ForkedRuns:
    def __init__(self, *, jobs: int, work: Work, scratch: Path, deadline: float | None) -> None:
        self._jobs, self._work, self._scratch, self._deadline = max(1, jobs), work, scratch, deadline
        self._results = scratch / "results"
        self._results.mkdir()
        self._waiting: list[tuple[int, int]] = []  # (pid, descriptor of its go-ahead), oldest first
        self._running: dict[int, int] = {}  # pid -> its pidfd
        self.forks = 0

    def over_budget(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def submit(self, machine: Machine, points: list[tuple[int, CrashPoint]], cause: str) -> float:
        """Forks the crash runs of `points` (numbered) at this moment of the machine's run.
        Returns the real seconds spent waiting for earlier forks (not the reference run's)."""
        state = self._scratch / f"state-{points[0][0]}"
        snapshot.save(machine, state)
        go_read, go_write = os.pipe()
        pid = snapshot.fork(machine)
        if pid == 0:
            self._in_fork(machine, state, points, cause, go_read, go_write)
        os.close(go_read)
        self.forks += 1
        self._waiting.append((pid, go_write))
        self.service()
        waited = time.monotonic()
        while len(self._waiting) > WAITING_PER_JOB * self._jobs:
            self._wait_for_one()
        return time.monotonic() - waited

    def service(self) -> None:
        """Notes the forks that ended and starts waiting ones on the cores they freed."""
        for pid, pidfd in list(self._running.items()):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                os.close(pidfd)
                del self._running[pid]
        while self._waiting and len(self._running) < self._jobs:
            pid, go = self._waiting.pop(0)
            skip = self.over_budget()
            try:
                os.write(go, b"s" if skip else b"g")
            except BrokenPipeError:
                pass
            os.close(go)
            self._running[pid] = os.pidfd_open(pid)

    def finish(self) -> dict[int, PointRun]:
        """Waits for every fork; what each found, by point number (points left have none)."""
        while self._waiting or self._running:
            self._wait_for_one()
        found = {}
        for path in sorted(self._results.glob("*.json")):
            data = json.loads(path.read_text())
            found[data["index"]] = PointRun(data["index"], CrashPoint.from_json(data["point"]),
                                            [tuple(v) for v in data["violations"]], data["timeline"], data["error"],
                                            data["cause"])
        return found

    def abort(self) -> dict[int, PointRun]:
        """Explore was interrupted: every fork is killed at once (its sandbox dies with it), what
        they left is removed, and what the finished ones found is returned."""
        forks = [pid for pid, _ in self._waiting] + list(self._running)
        for pid in forks:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in forks:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for _, go in self._waiting:
            os.close(go)
        for pidfd in self._running.values():
            os.close(pidfd)
        self._waiting, self._running = [], {}
        found = self.finish()
        remove_stale()  # the killed forks' cgroups
        sweep_own(tuple(forks))  # and their runtime folders
        return found

    def _wait_for_one(self) -> None:
        self.service()
        if self._running:
            select.select(list(self._running.values()), [], [], 1.0)
        self.service()

    # -- in the fork --

    def _in_fork(self, machine: Machine, state: Path, points: list[tuple[int, CrashPoint]], cause: str,
                 go_read: int, go_write: int) -> None:
        """Never returns: waits for the go-ahead, runs the points, exits."""
        try:
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with explore
            interrupts.in_fork()  # explore stops it (abort) when it is interrupted
            os.close(go_write)
            for _, descriptor in self._waiting:
                os.close(descriptor)  # earlier forks' go-aheads are the original's to give
            for pidfd in self._running.values():
                os.close(pidfd)
            go = os.read(go_read, 1)
            for number, (index, point) in enumerate(points):
                if go != b"g" or self.over_budget():
                    break
                if number == len(points) - 1:
                    self._run(machine, state, index, point, cause)
                    break
                pid = os.fork()
                if pid == 0:
                    copy = self._scratch / f"point-{index}"
                    snapshot.copy_tree(state, copy)
                    self._run(machine, copy, index, point, cause)
                os.waitpid(pid, 0)
        finally:
            os._exit(0)

    def _run(self, machine: Machine, directory: Path, index: int, point: CrashPoint, cause: str) -> None:
        """Cuts the power in `directory` and writes what the run found; never returns."""
        found = {"index": index, "point": point.to_json(), "violations": [], "timeline": "", "error": "",
                 "cause": ""}
        try:
            for path in point.tear:
                machine.tear_at_power_loss(path, "empty")
            self._work.move_world(machine.directory, directory / "mac")
            result = snapshot.cut_power(machine, directory, cause)
            violations = self._work.judge(result, point)
            found["violations"] = [list(v) for v in violations]
            if violations:
                found["timeline"] = self._work.timeline(result, point)
                found["cause"] = self._work.cause(result, point)
            if self._work.keep_traces is not None:
                (self._work.keep_traces / f"{index}.jsonl").write_text(
                    "".join(event.to_json() + "\n" for event in result.trace.events))
        except BaseException:
            found["error"] = traceback.format_exc()
        finally:
            partial = self._results / f".{index}.json"
            partial.write_text(json.dumps(found))
            os.replace(partial, self._results / f"{index}.json")
            remove_tree(directory)
            os._exit(0)
