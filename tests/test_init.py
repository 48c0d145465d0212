"""The controller's bookkeeping of init's answers fails loudly instead of guessing.

A stand-in boot replays what init would report on its pipe; the real init is exercised by every
test that runs bash on the Mac.
"""
from __future__ import annotations

import os

import pytest

from harness.errors import SandboxError, SimulatorFault
from harness.mac.init import Init


class ReportingBoot:
    """What Init needs of a boot: a pipe of init's reports, and commands that go nowhere."""

    def __init__(self, *reports: str) -> None:
        self.events_fd, self._write = os.pipe()
        os.set_blocking(self.events_fd, False)
        self.alive = True
        os.write(self._write, "".join(line + "\n" for line in reports).encode())

    def read_events(self) -> list[list[str]]:
        try:
            chunk = os.read(self.events_fd, 65536)
        except BlockingIOError:
            return []
        return [line.split() for line in chunk.decode().splitlines() if line]

    def kill(self, ns_pid: int, sig: int) -> None:
        pass


def init_on(boot: ReportingBoot) -> Init:
    init = Init(event=lambda *a, **k: None, before_exit=lambda: None, on_exit=lambda: None)
    init.attach(boot)
    return init


def test_an_acknowledgement_nobody_asked_for_stops_the_run():
    init = init_on(ReportingBoot("ack"))
    with pytest.raises(SimulatorFault, match="acknowledged a request nobody made"):
        init.read_events()


def test_a_report_macsim_does_not_know_stops_the_run():
    init = init_on(ReportingBoot("spawnd 1 2"))
    with pytest.raises(SimulatorFault, match="does not know: spawnd 1 2"):
        init.read_events()


def test_an_init_that_never_acknowledges_a_signal_is_a_stuck_sandbox():
    init = init_on(ReportingBoot())
    init.signal(5, 15)
    with pytest.raises(SandboxError, match="left 1 request"):
        init.settle(timeout_s=0.2)


def test_an_acknowledged_signal_settles():
    init = init_on(ReportingBoot("ack"))
    init.signal(5, 15)
    init.settle(timeout_s=2)
    assert init.acks_outstanding == 0
