"""The controller's side of a boot's init: what it was asked to start and signal, and what exited.

init (pid 2 of the boot's namespace, native/macsim.c) forks launchd's jobs and sessions on
request, signals processes, and reports every start, acknowledgement and exit on its pipe. Each
request is acknowledged before the controller lets any process take its next step, so a job
booted out by its own `launchctl` child dies before it runs another command: `settle()` waits
for the acknowledgements, and fails loudly when init stops giving them.
"""
from __future__ import annotations

import os
import selectors
import signal
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import SandboxError, SimulatorFault
from .processes import Boot

#: How long init may take to acknowledge a request before the boot is declared broken.
ACK_TIMEOUT_S = 5.0


@dataclass
class Spawn:
    """A process the controller asked init to start: a launchd job or a session."""

    spawn_id: int
    argv: list[str]
    user: str
    label: str | None
    on_exit: Callable[[int], None] | None = None
    ns_pid: int | None = None


class Init:
    """Requests to the current boot's init, and its reports."""

    def __init__(self, event: Callable[..., None], before_exit: Callable[[], None],
                 on_exit: Callable[[], None]) -> None:
        self._event = event
        self._before_exit = before_exit  # file changes up to an exit belong before it
        self._on_exit = on_exit  # an exit often leaves every process blocked
        self.boot: Boot | None = None
        self.spawns: dict[int, Spawn] = {}
        self.by_ns_pid: dict[int, Spawn] = {}
        self.users: dict[int, str] = {}  # ns pid -> macOS user, for spawns (identity.py reads it)
        self._next_spawn_id = 1
        self.acks_outstanding = 0
        self.listener_fd = -1
        #: Told (pid, or None for all; signal; to its group?) before a signal goes: the scheduler
        #: then knows who is about to wake up (census.py).
        self.before_signal: Callable[[int | None, int, bool], None] = lambda pid, sig, group: None

    def attach(self, boot: Boot) -> None:
        """A new boot: nothing of the last one's processes is left."""
        self.boot = boot
        self.spawns.clear()
        self.by_ns_pid.clear()
        self.users.clear()
        self.acks_outstanding = 0

    def detach(self) -> None:
        self.boot = None

    def await_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for words in self.read_events(block=True):
                if words and words[0] == "ready":
                    # init's own descriptor of its seccomp listener, if it was asked for one (cuts.py)
                    self.listener_fd = int(words[2]) if len(words) > 2 else -1
                    return
        raise SandboxError("the Mac's init did not start within 10 s")

    def send(self, command: Callable[[Boot], None]) -> None:
        if self.boot and self.boot.alive:
            self.acks_outstanding += 1
            command(self.boot)

    def spawn(self, argv: list[str], env: dict[str, str], *, label: str | None, session: str | None = None,
              user: str = "root", cwd: str = "/", stdout: str = "", stderr: str = "",
              on_exit: Callable[[int], None] | None = None) -> Spawn:
        """Starts a new process session inside the Mac (a launchd job, or a script-job)."""
        spawn = Spawn(self._next_spawn_id, argv, user, label or session, on_exit)
        self._next_spawn_id += 1
        self.spawns[spawn.spawn_id] = spawn
        self.send(lambda boot: boot.spawn(spawn.spawn_id, argv, env, cwd=cwd, stdout=stdout, stderr=stderr))
        return spawn

    def signal(self, ns_pid: int, sig: int, *, group: bool = False) -> None:
        self.before_signal(ns_pid, sig, group)
        self.send(lambda boot: (boot.killpg if group else boot.kill)(ns_pid, sig))

    def signal_all(self, sig: int) -> None:
        """Every process of the boot but init (a shutdown)."""
        self.before_signal(None, sig, True)
        self.send(lambda boot: boot.kill_all(sig))

    def settle(self, timeout_s: float = ACK_TIMEOUT_S) -> None:
        """Waits until init has acknowledged every request: the signals and spawns a shim asked
        for happen before its caller hears back (a caller that ran on first, say past the
        bootout of its own job, would meet the SIGTERM a step later in one run than in another)."""
        deadline = time.monotonic() + timeout_s
        while self.acks_outstanding and self.boot is not None and self.boot.alive:
            if time.monotonic() > deadline:
                raise SandboxError(f"the Mac's init left {self.acks_outstanding} request(s) unanswered "
                                   f"for {timeout_s:g} s: the boot's sandbox is stuck")
            self.read_events(block=True)

    def read_events(self, *, block: bool = False) -> list[list[str]]:
        if self.boot is None:
            return []
        if block:
            waiting = selectors.DefaultSelector()
            waiting.register(self.boot.events_fd, selectors.EVENT_READ)
            waiting.select(1.0)
            waiting.close()
        events = self.boot.read_events()
        for words in events:
            if words[0] == "spawned":
                self._acknowledged(words)
                spawn = self.spawns.get(int(words[1]))
                if spawn:
                    spawn.ns_pid = int(words[2])
                    self.by_ns_pid[spawn.ns_pid] = spawn
                    self.users[spawn.ns_pid] = spawn.user
                    self._event("process-start", pid=spawn.ns_pid, job=spawn.label, argv=spawn.argv,
                                user=spawn.user)
            elif words[0] == "ack":
                self._acknowledged(words)
            elif words[0] == "exit":
                self._exited(int(words[1]), int(words[2]))
            elif words[0] != "ready":
                raise SimulatorFault(f"init reported something macsim does not know: {' '.join(words)}")
        return events

    def _acknowledged(self, words: list[str]) -> None:
        if self.acks_outstanding <= 0:
            raise SimulatorFault(f"init acknowledged a request nobody made: {' '.join(words)}")
        self.acks_outstanding -= 1

    def _exited(self, ns_pid: int, raw_status: int) -> None:
        self._on_exit()
        spawn = self.by_ns_pid.pop(ns_pid, None)
        if spawn is None:
            return
        status = os.waitstatus_to_exitcode(raw_status)
        self._before_exit()
        self._event("process-exit", pid=ns_pid, job=spawn.label,
                    **({"signal": signal.Signals(-status).name} if status < 0 else {"status": status}))
        if spawn.on_exit:
            spawn.on_exit(status)
