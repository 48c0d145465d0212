"""The controller's loop: which waiting process takes the next step, and when time moves.

Every shim call and every simple command of a bash on the Mac waits for a go-ahead. The
scheduler grants one step at a time, deciding in this order:

1. A boot that ended (a reboot or a power cut happened) is followed by the next one.
2. While init has not acknowledged a signal or spawn, nothing runs.
3. A shutdown under way first lets every process reach its next step or block, then SIGTERMs
   them all (boots.py). A shell's command waiting at that moment never runs: the shell meets
   the signal first, as a shell on a Mac would (it runs its EXIT trap, whose commands are new
   requests). Granting it instead would race the signal, and which won would vary by run.
4. One request, with every other process of the boot a blocked ancestor of the requester (a
   single script and its children): granted at once.
5. Otherwise nothing is decided until the boot is quiescent (every process blocked, nothing
   unread): then one pending request is picked with the seeded stream "schedule" (drawn only
   when there is a real choice). Quiescence is known for sure when every process waits for the
   controller (a step, a call, a deferred answer), is init, or is a sleeping ancestor of one
   that waits (census.py); otherwise it takes a glimpse of every process, twice
   across a short settle interval, with no context switch in between.
6. Quiescent with nothing pending: the clock jumps to the next timer and fires everything due
   at that moment; past the simulated-time limit, the run ends.
7. Quiescent, nothing pending, nothing scheduled: the run ends `quiet` (no process), `idle`
   (only a model waiting for outside work) or `blocked` (confirmed over about 0.1 real s).
"""
from __future__ import annotations

import random
import time
from typing import Callable

from . import cuts
from .boots import Boots
from .changes import FileChanges
from .channel import POLL_MAX_S, POLL_MIN_S, Conn, Request, Switchboard, waiting_in
from .clock import Clock
from .config import Limits, Verdict
from .cuts import Change
from .identity import Identity
from .init import Init
from .census import BUSY, QUIET, UNSURE

BLOCKED_CONFIRMATIONS = 5


class Scheduler:
    def __init__(self, *, limits: Limits, clock: Clock, switchboard: Switchboard, init: Init,
                 boots: Boots, changes: FileChanges, identity: Identity, stream: random.Random,
                 answer: Callable[[Request], None], event: Callable[..., None],
                 finish: Callable[[Verdict, str], None], finished: Callable[[], bool]) -> None:
        self._limits, self._clock, self._switchboard, self._init = limits, clock, switchboard, init
        self._boots, self._changes, self._identity, self._stream = boots, changes, identity, stream
        self._answer, self._event, self._finish, self._finished = answer, event, finish, finished
        self.steps = 0
        self.holder: Request | None = None  # the step in progress
        self.power_loss_steps: set[int] = set()
        self.deferred: set[Conn] = set()  # waiting for an answer that comes later (a sleep, an apply)
        # pid -> its run count when told to go on, or when signalled (census.py)
        self._released: dict[int, int] = {}
        self._signalled: dict[int, int] = {}
        self._signals_sent = False  # since quiescence was last seen through a glimpse
        self._outside_waits: list[Conn] = []
        self._deadline = 0.0
        # Set by what often leaves every process blocked (a deferred answer, an exit): look
        # for quiescence at once instead of after the next poll interval.
        self.quiet_hint = False
        #: Called with each request about to be granted, its step counted and its changes drained.
        self.before_grant: Callable[[Request], None] | None = None
        #: Cuts inside commands (cuts.py): step -> the power goes after this many of its changes.
        self.power_loss_changes: dict[int, int] = {}
        #: Called with each change a process is about to make, when changes are stopped (cuts.py).
        self.before_change: Callable[[Change, int, int], None] | None = None
        #: The limit the Mac's processes ran into, if any (bounds.py): the run ends with it.
        #: The limit the Mac's processes ran into, if any (bounds.py); `True` reads it now
        #: rather than at most every few milliseconds.
        self.breach: Callable[[bool], tuple[Verdict, str] | None] = lambda now: None

    def forget_boot(self) -> None:
        self._switchboard.pending.clear()
        self._outside_waits.clear()
        self.deferred.clear()
        self._released.clear()
        self._signalled.clear()
        self._signals_sent = False
        self.holder = None

    def run(self) -> None:
        self._deadline = time.monotonic() + self._limits.real_s
        while not self._finished():
            self._pump()
            if not self._finished():
                self._decide()

    def on_change(self, change: Change, step: int, done: int) -> str | None:
        """A process is about to make a change to the disk, `done` changes into `step`: the power
        cut asked for right there ("cut": nobody waits for the answer any more), or the hook."""
        if self.power_loss_changes.get(step) == done:
            self._boots.power_loss(cuts.cause(step, done, change))
            return "cut"
        if self.before_change is not None:
            self.before_change(change, step, done)
        return None

    def extend_deadline(self, seconds: float) -> None:
        """Real time spent outside the run (explore waiting for a free core) is not the run's."""
        self._deadline += seconds

    def wait_for_outside_work(self) -> None:
        """The process of the step in progress now waits for work from outside the Mac: if
        nothing else is left to happen, the run ends `idle`, not `blocked`."""
        self._outside_waits.append(self.holder.conn)

    def _pump(self) -> None:
        board = self._switchboard
        board.pump(0 if self.quiet_hint else board.poll_s)
        if time.monotonic() > self._deadline:
            self._finish(Verdict.LIMIT_REAL, f"{self._limits.real_s:g} real seconds elapsed")
        elif (breach := self.breach(False)) is not None:
            self._finish(*breach)  # a fork refused or a process OOM-killed (bounds.py)

    def _decide(self) -> None:
        boots, board = self._boots, self._switchboard
        if boots.boot is None:
            if not self._finished():
                boots.start()
            return
        if self._init.acks_outstanding:
            return
        if boots.going_down and not boots.teardown_started:
            # Let every process reach its next step (or block) first: where the SIGTERM finds
            # the caller of `shutdown` must not depend on timing.
            if not self._quiescent():
                return
            if not board.drain_nowait():
                self._changes.drain(self.holder)
                board.withdraw_steps()
                boots.teardown()
            return
        pending = board.pending
        if pending and len(pending) == 1 and self._only_one_can_run(pending[0]):
            # The others are blocked, so anything they sent is already in our sockets.
            if not board.drain_nowait():
                self._grant(pending[0])
            return
        if not pending and not (board.idle or self.quiet_hint):
            return  # someone is at work and said nothing new: no reason to look yet
        self.quiet_hint = False
        if not self._quiescent():
            board.poll_s = min(board.poll_s * 2, POLL_MAX_S)
            return
        board.poll_s = POLL_MIN_S
        if board.drain_nowait():
            return  # a message sent before everyone blocked: decide again with it
        if board.pending:
            ordered = sorted(board.pending, key=lambda r: (r.ns_pid, r.kind))
            # Draw only for a real choice: whether a lone request was granted here or on the
            # fast path depends on timing, and must not shift the seeded stream.
            pick = self._stream.randrange(len(ordered)) if len(ordered) > 1 else 0
            self._grant(ordered[pick])
            return
        self._changes.drain(self.holder)
        if self._advance_clock():
            return
        self._end_if_nothing_can_happen()

    def _advance_clock(self) -> bool:
        """Fires every timer due at the next moment; False when no timer is pending."""
        timer = self._clock.next_due()
        if timer is None:
            return False
        if timer.at_s > self._limits.simulated_s:
            self._finish(Verdict.LIMIT_SIMULATED, f"the next event is at {timer.at_s:g} s")
            return True
        due = timer.at_s
        while (timer := self._clock.next_due()) is not None and timer.at_s == due and self._boots.boot:
            self._clock.advance()
        return True

    def _end_if_nothing_can_happen(self) -> None:
        boots = self._boots
        live = [p for p in boots.boot.processes().values() if p.name != "macsim-init"]
        if (breach := self.breach(True)) is not None:
            self._finish(*breach)  # a limit hit since the last look explains why all is still
        elif boots.teardown_started:
            boots.finish_shutdown()
        elif not live:
            self._finish(Verdict.QUIET, "no process running, nothing scheduled")
        elif not self._confirm_blocked():
            return
        elif any(not conn.closed for conn in self._outside_waits):
            waiting = sorted(conn.ns_pid for conn in self._outside_waits if not conn.closed)
            self._finish(Verdict.IDLE, f"nothing left to do but wait for outside work (pids {waiting})")
        else:
            names = ", ".join(f"{p.ns_pid}:{p.name} ({waiting_in(p.host_pid)})"
                              for p in sorted(live, key=lambda p: p.ns_pid))
            self._finish(Verdict.BLOCKED, f"every process waits for something that never comes: {names}")

    def _confirm_blocked(self) -> bool:
        """A run must not end on a glimpse: look again, over about a tenth of a real second.
        A census that is sure needs no second look."""
        board, boot = self._switchboard, self._boots.boot
        waiting = self._waiting()
        if not board.drain_nowait() and not board.pending and not self._woken_not_run(waiting) \
                and boot.own_proc.census(waiting) == QUIET:
            return True
        for _ in range(BLOCKED_CONFIRMATIONS):
            if board.drain_nowait() or board.pending or not boot.quiescent(settle_s=0.02):
                return False
        return True

    def _waiting(self) -> set[int]:
        """The processes (pids as the Mac sees them) that wait for the controller to answer."""
        waiting = {request.ns_pid for request in self._switchboard.pending if not request.conn.closed}
        return waiting | {conn.ns_pid for conn in self.deferred if not conn.closed}

    def release(self, ns_pid: int) -> None:
        """The process is about to be told to go on (a step granted, a call answered): it runs
        from now on, whatever /proc says before it is on a CPU again."""
        count = self._boots.boot.own_proc.run_count(ns_pid) if self._boots.boot else None
        if count is not None:
            self._released[ns_pid] = count

    def release_signalled(self, ns_pid: int | None, sig: int, group: bool) -> None:
        """A signal is about to go (init.py): whom it wakes runs from now on, as for `release`."""
        boot = self._boots.boot
        if boot is None:
            return
        self._signals_sent = True
        for pid in boot.own_proc.woken_by(ns_pid, sig, group):
            count = boot.own_proc.run_count(pid)
            if count is not None:
                self._signalled[pid] = count

    def _quiescent(self) -> bool:
        """Every process of the boot is blocked: known for sure, or seen in a glimpse."""
        boot, waiting = self._boots.boot, self._waiting()
        if self._woken_not_run(waiting):
            return False
        found = boot.own_proc.census(waiting)
        if found == UNSURE and self._switchboard.drain_nowait():
            self.quiet_hint = True  # someone spoke meanwhile: decide again with it, at once
            return False
        if found == QUIET and self._signals_sent:
            # A signal ends processes through paths that sleep a moment; what it set off is
            # seen through once, across a settle interval, before the census is trusted again.
            found = QUIET if boot.quiescent() else BUSY
            self._signals_sent = found != QUIET
        return found == QUIET or (found == UNSURE and boot.quiescent())

    def _only_one_can_run(self, request: Request) -> bool:
        """True when every other process of the boot is a blocked ancestor of the requester, or
        waits for an answer that comes later (a sleep, an apply): the seeded stream would have
        nothing to choose from either."""
        waiting = {request.ns_pid} | {conn.ns_pid for conn in self.deferred if not conn.closed}
        return not self._signals_sent and not self._woken_not_run(waiting) \
            and self._boots.boot.own_proc.census(waiting) == QUIET

    def _woken_not_run(self, waiting: set[int]) -> bool:
        """True while a process told to go on (or signalled) may not have been on a CPU since: it
        reads as sleeping until it is. One that asked for something since has run (a signalled
        one may have asked before the signal: its run count tells)."""
        for pid in waiting & self._released.keys():
            del self._released[pid]
        boot = self._boots.boot
        for pid, count in list(self._released.items()):
            # Told to go on while it was not waiting for that (a signal took it elsewhere), it
            # does not wake for it: nothing to wait for.
            if boot.own_proc.run_count(pid) == count and boot.own_proc.reads_from_the_controller(pid):
                return True
            del self._released[pid]  # it ran since (or died, or waits for something else)
        for pid, count in list(self._signalled.items()):
            if boot.own_proc.run_count(pid) == count:
                return True
            del self._signalled[pid]
        return False

    def _grant(self, request: Request) -> None:
        self._switchboard.greet()
        self._switchboard.pending.remove(request)
        if request.conn.closed:
            return
        self.steps += 1
        self._changes.drain(self.holder)
        if self.before_grant is not None:
            self.before_grant(request)  # a crash point (explore forks here: snapshot.py)
        if self.steps in self.power_loss_steps:
            self._boots.power_loss(f"injected before step {self.steps}")
            return
        if self.steps > self._limits.steps:
            self._finish(Verdict.LIMIT_STEPS, f"{self._limits.steps} steps")
            return
        self.holder = request
        request.user, request.job = self._identity.of(request.conn)
        if request.kind == "call":
            self._answer(request)
        else:
            self._event("step", pid=request.ns_pid, job=request.job,
                        line=request.line, file=request.source, step=self.steps)
            self.release(request.ns_pid)
            request.conn.go(request.kind)
