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
5. Otherwise nothing is decided until the boot is quiescent (every process blocked, no context
   switch across a short settle interval, nothing unread): then one pending request is picked
   with the seeded stream "schedule" (drawn only when there is a real choice).
6. Quiescent with nothing pending: the clock jumps to the next timer and fires everything due
   at that moment; past the simulated-time limit, the run ends.
7. Quiescent, nothing pending, nothing scheduled: the run ends `quiet` (no process), `idle`
   (only a model waiting for outside work) or `blocked` (confirmed over about 0.1 real s).
"""
from __future__ import annotations

import random
import time
from typing import Callable

from .boots import Boots
from .changes import FileChanges
from .channel import POLL_MAX_S, POLL_MIN_S, Conn, Request, Switchboard, waiting_in
from .clock import Clock
from .config import Limits, Verdict
from .identity import Identity
from .init import Init

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
        self._outside_waits: list[Conn] = []
        self._deadline = 0.0
        # Set by what often leaves every process blocked (a deferred answer, an exit): look
        # for quiescence at once instead of after the next poll interval.
        self.quiet_hint = False

    def forget_boot(self) -> None:
        self._switchboard.pending.clear()
        self._outside_waits.clear()
        self.holder = None

    def run(self) -> None:
        self._deadline = time.monotonic() + self._limits.real_s
        while not self._finished():
            self._pump()
            if not self._finished():
                self._decide()

    def wait_for_outside_work(self) -> None:
        """The process of the step in progress now waits for work from outside the Mac: if
        nothing else is left to happen, the run ends `idle`, not `blocked`."""
        self._outside_waits.append(self.holder.conn)

    def _pump(self) -> None:
        board = self._switchboard
        board.pump(0 if self.quiet_hint else board.poll_s)
        if time.monotonic() > self._deadline:
            self._finish(Verdict.LIMIT_REAL, f"{self._limits.real_s:g} real seconds elapsed")

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
            if not boots.boot.quiescent():
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
        if not boots.boot.quiescent():
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
        if boots.teardown_started:
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
        """A run must not end on a glimpse: look again, over about a tenth of a real second."""
        board, boot = self._switchboard, self._boots.boot
        for _ in range(BLOCKED_CONFIRMATIONS):
            if board.drain_nowait() or board.pending or not boot.quiescent(settle_s=0.02):
                return False
        return True

    def _only_one_can_run(self, request: Request) -> bool:
        """True when every other process of the boot is a blocked ancestor of the requester."""
        boot = self._boots.boot
        table = boot.processes()
        me = request.conn.host_pid
        if me not in table:
            return False
        ancestors = set(boot.ancestors(me, table))
        return all(pid == me or (pid in ancestors and info.state == "S") for pid, info in table.items())

    def _grant(self, request: Request) -> None:
        self._switchboard.pending.remove(request)
        if request.conn.closed:
            return
        self.steps += 1
        self._changes.drain(self.holder)
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
            request.conn.go(request.kind)
