"""macsim's own errors: one root, so a caller can tell macsim's failures from a script's.

`MacsimError` is the root. `BadInput` is what a user gave (a scenario file, an option): the
command line prints it and exits 2. `EnvironmentFailure` is the host macsim runs on (no
bubblewrap, no C compiler, a sandbox that did not start): exit 70. `SimulatorFault` is macsim
breaking its own rules (a deterministic simulator must stop, not guess): exit 70 too, with the
message asking for a bug report.
"""
from __future__ import annotations


class MacsimError(Exception):
    """Something macsim itself cannot go on with."""


class BadInput(MacsimError, ValueError):
    """What the user gave cannot be used as given."""


class EnvironmentFailure(MacsimError, RuntimeError):
    """The host macsim runs on lacks something, or refused something, that macsim needs."""


class SandboxError(EnvironmentFailure):
    """The sandbox of a boot did not start or stopped answering."""


class SimulatorFault(MacsimError, AssertionError):
    """macsim broke one of its own rules; the run cannot be trusted and is stopped."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM asked macsim to stop (tools/interrupts.py): what had finished is reported,
    everything else is cleaned up, and the command exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
