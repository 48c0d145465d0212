"""What the simulated Mac's services (launchd, and through `Mac` the shims and the world's models)
may ask of the kernel that runs them: record an event, start and signal processes, map a macOS
path to the host, read the clock, draw from a named random stream.

The machine (machine.py) provides it; services are handed it and never import the machine, the
way a protocol is handed its transport.
"""
from __future__ import annotations

from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from .clock import Clock
    from .config import MachineConfig
    from .disk import Disk
    from .init import Spawn


class Kernel(Protocol):
    clock: "Clock"
    disk: "Disk"

    @property
    def config(self) -> "MachineConfig":
        """What kind of Mac this is (a macOS update changes it)."""

    @property
    def boot_count(self) -> int:
        """The boot the Mac is in, from 1."""

    def event(self, kind: str, *, pid: int | None = None, job: str | None = None, **data) -> None:
        """Appends an event to the trace, at the current simulated time and boot."""

    def random(self, name: str) -> Random:
        """The seeded stream called `name` (the same object on every call)."""

    def inside_path(self, mac_path: str, cwd: str = "/") -> Path | None:
        """The host path `mac_path` names inside the Mac, or None when nothing is there."""

    def spawn(self, argv: list[str], env: dict[str, str], *, label: str | None, session: str | None = None,
              user: str = "root", cwd: str = "/", stdout: str = "", stderr: str = "",
              on_exit: Callable[[int], None] | None = None) -> "Spawn":
        """Starts a new process session inside the Mac (a launchd job, or a script-job)."""

    def signal(self, ns_pid: int, sig: int, *, group: bool = False) -> None:
        """Sends `sig` to a process (or its process group) of the current boot."""
