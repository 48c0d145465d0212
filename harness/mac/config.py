"""What kind of Mac is simulated, how long a run may last, and how a run can end."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

HARNESS_VERSION = "0.1.0"


@dataclass(frozen=True)
class MachineConfig:
    """What kind of Mac this is. Defaults: an M4 Mac mini on macOS 15 (ronin-context.md)."""

    macos_version: str = "15.3.1"
    build_version: str = "24D70"
    kernel_release: str = "24.3.0"
    model: str = "Mac16,10"
    arch: str = "arm64"
    hostname: str = "macmini-m4-001.test.releng.mdc1.mozilla.com"
    #: launchd's default ExitTimeOut (macos-behaviour.md §5.2: 5 s today, 20 s historically).
    exit_timeout_s: int = 5
    #: SIGTERM to SIGKILL at shutdown; "an intentionally indeterminate period" (§8.3).
    shutdown_grace_s: int = 5
    #: Simulated seconds from power-on (or the end of a shutdown) to launchd loading daemons.
    boot_duration_s: int = 35
    #: Seconds after launchd starts before DNS answers (§13); 0 = up at once.
    network_up_after_s: float = 0
    #: sudo asks no password of anyone (the fleet's sudoers lets cltbld run run-puppet.sh).
    sudo_nopasswd: bool = True
    #: Remote Login (sshd) is on: operators reach fleet hosts over ssh and Bolt (ronin-context.md).
    remote_login: bool = True
    #: A file written less than this many simulated seconds before a power cut may not be on
    #: disk yet (macos-behaviour.md §9b: "the last few simulated seconds").
    unflushed_s: float = 5.0
    timezone: str = "UTC"
    #: Free space on the disk when the Mac first boots, in MiB: its capacity is what the host's
    #: files take then plus this (confine.py). A write past it fails with ENOSPC inside the Mac.
    disk_free_mb: int = 2048

    @property
    def macos_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.macos_version.split("."))


@dataclass(frozen=True)
class Limits:
    """Every run ends; each limit has its own verdict."""

    boots: int = 12
    simulated_s: float = 3 * 24 * 3600
    steps: int = 100_000
    real_s: float = 300
    #: Processes (and threads) of the Mac at once; a refused fork ends the run (bounds.py).
    processes: int = 512
    #: Memory of the Mac's processes, in MiB, besides what they wrote to its disk; an OOM kill
    #: ends the run.
    memory_mb: int = 1024


class Verdict(str, Enum):
    QUIET = "quiet"  # nothing running, nothing scheduled
    BLOCKED = "blocked"  # processes alive, all waiting for something that will never come
    IDLE = "idle"  # what still runs waits for work from outside (a worker waiting for tasks)
    HALTED = "halted"  # shut down without restart
    POWER_OFF = "powered-off"  # the scenario cut the power and did not restore it
    LIMIT_BOOTS = "limit-boots"
    LIMIT_SIMULATED = "limit-simulated-time"
    LIMIT_STEPS = "limit-steps"
    LIMIT_REAL = "limit-real-time"
    LIMIT_PROCESSES = "limit-processes"
    LIMIT_MEMORY = "limit-memory"
