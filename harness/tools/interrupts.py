"""Ctrl-C and SIGTERM: macsim stops cleanly, says so in one line, and exits as a shell expects.

The first SIGINT or SIGTERM raises `Interrupted` wherever the controller is; every `finally` on
the way out does its part (the boot's sandbox killed, its cgroups and folders removed, the
Mac's disk unmounted), the command writes what had finished to its reports, marked partial,
prints one line, and exits 128 + the signal's number (130, 143). Further signals are ignored
until then: a second Ctrl-C must not cut the cleanup short. Sandboxes run in their own process
group, so a Ctrl-C at the terminal reaches the controller alone, which then ends them.
"""
from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

from ..errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _State:
    signum: int = 0  # the first signal received, 0 before any


_STATE = _State()


def _handler(signum: int, _frame) -> None:
    if _STATE.signum:
        return  # cleaning up after the first one
    _STATE.signum = signum
    raise Interrupted(signum)


def install() -> None:
    """From now on SIGINT and SIGTERM raise `Interrupted` (once)."""
    _STATE.signum = 0
    for signum in HANDLED:
        signal.signal(signum, _handler)


def in_fork() -> None:
    """In a forked worker (a crash run): its parent decides when it stops, and kills it then.
    A handler that does nothing, not SIG_IGN, which the Mac's processes would inherit."""
    for signum in HANDLED:
        signal.signal(signum, _ignore)


def _ignore(_signum: int, _frame) -> None:
    pass


def name(signum: int) -> str:
    return signal.Signals(signum).name


def status(signum: int) -> int:
    """The exit status a shell shows for a command the signal ended."""
    return 128 + signum


def report(stop: Interrupted, what: str) -> int:
    """Prints macsim's one line about the interruption; returns the exit status."""
    sys.stdout.flush()  # what was printed before comes before
    print(f"macsim: interrupted by {name(stop.signum)}: {what}", file=sys.stderr, flush=True)
    return status(stop.signum)


def pending() -> int:
    """The signal that interrupted this process, 0 if none (a fork reads it before it exits)."""
    return _STATE.signum


def restore() -> None:
    """The default handlers again (a test that calls main() in-process)."""
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)
    _STATE.signum = 0

