"""Simulated time: one clock for the whole Mac and the heap of timers that fire in it.

Nothing here sleeps in real time. The machine asks `next_due()` when every live process is
waiting on the clock, then `advance()` jumps straight to that moment and fires what is due.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Callable

#: 2026-01-05 09:00:00 UTC, a Monday: the moment the first boot of every machine starts.
DEFAULT_EPOCH_S = 1767603600


@dataclass(order=True)
class Timer:
    """One pending event: fires `action` at simulated second `at_s` unless cancelled."""

    at_s: float
    priority: int
    seq: int
    label: str = field(compare=False)
    action: Callable[[], None] = field(compare=False, repr=False)
    scope: str = field(default="run", compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """The machine's clock. Time moves only when `advance()` is called."""

    def __init__(self, epoch_s: int = DEFAULT_EPOCH_S) -> None:
        self.epoch_s = epoch_s
        self.now_s: float = 0.0
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    @property
    def wall_s(self) -> float:
        """Seconds since 1970 as `date` on the Mac reports them."""
        return self.epoch_s + self.now_s

    def call_at(self, at_s: float, label: str, action: Callable[[], None], *, priority: int = 0,
                scope: str = "run") -> Timer:
        """Schedules `action` at simulated time `at_s` (never in the past). A timer of scope
        "boot" dies with the boot that set it; one of scope "run" outlives reboots."""
        timer = Timer(max(at_s, self.now_s), priority, next(self._seq), label, action, scope=scope)
        heapq.heappush(self._heap, timer)
        return timer

    def call_later(self, delay_s: float, label: str, action: Callable[[], None], *, priority: int = 0,
                   scope: str = "boot") -> Timer:
        return self.call_at(self.now_s + max(delay_s, 0.0), label, action, priority=priority, scope=scope)

    def next_due(self) -> Timer | None:
        """The earliest live timer, or None when nothing is pending."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def pending(self) -> int:
        return sum(1 for timer in self._heap if not timer.cancelled)

    def advance(self) -> Timer | None:
        """Jumps to the earliest timer and fires it; returns it, or None if nothing was pending."""
        timer = self.next_due()
        if timer is None:
            return None
        heapq.heappop(self._heap)
        # A timer passed over by skip() (the Mac was off or booting) fires late, never back in time.
        self.now_s = max(self.now_s, timer.at_s)
        timer.action()
        return timer

    def cancel_scope(self, scope: str) -> None:
        """Cancels every timer of `scope`: a reboot ends what was scheduled in that boot."""
        for timer in self._heap:
            if timer.scope == scope:
                timer.cancel()

    def skip(self, delta_s: float) -> None:
        """Moves time forward with no timers firing (the machine was off or booting)."""
        self.now_s += max(delta_s, 0.0)
