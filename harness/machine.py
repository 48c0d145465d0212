"""One simulated Mac: its disk, its boots, the controller loop that orders every step.

The controller is the Mac's kernel and launchd at once. Every shim call and every simple
command of a bash on the Mac is a *step*: the process asks, and waits until the controller
lets it go. The controller lets one go at a time. With one process asking and everything else
merely waiting for it, the answer is immediate; when several ask at once, it waits until no
process of the Mac is doing real work, then picks one with the seeded PRNG. The clock moves
only in that same quiet state, when nothing but the clock can wake anyone. So concurrent jobs
get a reproducible order, and a thousand `sleep 60` cost no real minutes.
"""
from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from . import shims
from .bridge import cache_dir, encode, native_program
from .channel import Conn, Request, argv_env, describe, send_result, waiting_in
from .clock import Clock
from .config import HARNESS_VERSION, Limits, MachineConfig, Verdict  # noqa: F401  (re-exported)
from .disk import Disk, OutsideDisk, canonical
from .launchd import Launchd
from .models import mail  # noqa: F401  (registers the python3 and macsim-mail handlers)
from .models.network import Network
from .prng import Prng
from .processes import Boot, ProcInfo, find_bwrap, read_proc
from .unflushed import Unflushed, check_mode, tear
from .sandbox import HOST_USR, INSIDE, Runtime
from .shims import DEFERRED, Answer, Call, Exec
from .trace import Trace
from .watch import DiskWatch

POLL_MIN_S = 0.001
POLL_MAX_S = 0.02
BLOCKED_CONFIRMATIONS = 5
#: How long one installer boot of a macOS update lasts (simulated).
INSTALLER_BOOT_S = 600
DAEMON_DIRS_ON_DISK = ("/Library/LaunchDaemons/", "/System/Library/LaunchDaemons/")


@dataclass
class Spawn:
    """A process the controller asked init to start: a launchd job or a session."""

    spawn_id: int
    argv: list[str]
    user: str
    label: str | None
    on_exit: Callable[[int], None] | None = None
    ns_pid: int | None = None


@dataclass
class Update:
    """A macOS update, from MDM's push to the first boot into the new version."""

    config: MachineConfig  # the Mac on the new version
    boots_left: int  # restarts still to come, the one into the new version included
    install: Callable[[], None] | None = None  # what the installer does to the disk (once)
    network_up_after_s: float | None = None  # the network's delay in the first new boot


@dataclass
class RunResult:
    verdict: Verdict
    boots: int
    steps: int
    simulated_s: float
    trace: Trace
    detail: str = ""


class Machine:
    """A simulated Mac whose disk lives in `directory` on the host."""

    def __init__(self, directory: Path, *, config: MachineConfig = MachineConfig(), seed: int = 0,
                 limits: Limits = Limits(), trace_path: Path | None = None) -> None:
        self.directory = Path(directory)
        self.config = config
        self.seed = seed
        self.limits = limits
        disk_root = self.directory / "disk"
        self.disk = Disk(disk_root) if disk_root.exists() else Disk.create(disk_root, hostname=config.hostname.split(".")[0])
        self.prng = Prng(seed)
        self.clock = Clock()
        self.trace = Trace(trace_path)
        self.launchd = Launchd(self)
        self.network = Network(self)
        self.models: dict[str, object] = {}  # the fleet around the Mac (puppet, …), by name
        self.ro_binds: list[tuple[Path, str]] = []  # host folders a model shows inside, read-only
        self.boot_count = 0
        self.steps = 0
        self.boot: Boot | None = None
        self.verdict: Verdict | None = None
        self.verdict_detail = ""
        self._runtime_dir: Path | None = None
        self.runtime: Runtime | None = None
        self._bwrap = find_bwrap()
        self._native = native_program()
        self._selector = selectors.DefaultSelector()
        self._server: socket.socket | None = None
        self._conns: dict[int, Conn] = {}
        self._pending: list[Request] = []
        self._spawns: dict[int, Spawn] = {}
        self._by_ns_pid: dict[int, Spawn] = {}
        self._users: dict[int, str] = {}
        self._contexts: dict[tuple[int, int], str] = {}  # (host pid, start) -> job entered by exec
        self._next_spawn_id = 1
        self._acks_outstanding = 0
        self._holder: Request | None = None
        self._going_down: str | None = None  # "reboot" or "halt", once requested
        self._teardown_started = False
        self._power_loss_steps: set[int] = set()
        self._tears: dict[str, str] = {}  # mac path -> how it comes back if a power cut tears it
        self.unflushed = Unflushed()
        self._update: Update | None = None  # a macOS update in progress
        self.last_loaded: list[str] = []  # launchd's labels when the last boot ended
        self._outside_waits: list[Conn] = []
        self._boot_hooks: list[Callable[["Machine"], None]] = []
        self._watch: DiskWatch | None = None
        self._poll_s = POLL_MIN_S
        self._activity = 0
        self._idle = False
        # Set by what often leaves every process blocked (a deferred answer, an exit): look
        # for quiescence at once instead of after the next poll interval.
        self._quiet_hint = False

    # -- preparing a run ---------------------------------------------------------------

    def at_boot(self, hook: Callable[["Machine"], None]) -> None:
        """Calls `hook(machine)` after launchd has loaded its daemons, at every boot."""
        self._boot_hooks.append(hook)

    def start_script(self, script: bytes, *, name: str = "script.sh", args: tuple[str, ...] = (),
                     at_s: float = 0.0, session: str = "mdm-script-job") -> None:
        """Starts `script` once as root in the first boot, `at_s` simulated seconds in, in a
        session of its own (`start_session`)."""
        def at_boot(machine: "Machine") -> None:
            if machine.boot_count != 1:
                return

            def start() -> None:
                machine.start_session(script, name=name, args=args, session=session)
            if at_s <= machine.clock.now_s:
                start()
            else:
                machine.clock.call_at(at_s, f"start {session}", start, scope="boot")
        self.at_boot(at_boot)

    def start_session(self, script: bytes, *, name: str = "script.sh", args: tuple[str, ...] = (),
                      session: str = "mdm-script-job") -> None:
        """Starts `script` now, as root, in a new session called `session`.

        session "mdm-script-job": the way an MDM script-job runs it (mdmclient, a system
        daemon: from a temporary path, no TTY, launchd's minimal environment; the temporary
        copy is removed when it exits). A session whose name ends in "-session" ("ssh-session"):
        an operator's ssh or Bolt session (root's login environment; a user-session context; it
        dies with a reboot). What it prints is kept beside the machine (`output(session)`), one
        file per session name.
        """
        token = f"{self.prng.child(session).randrange(16**8):08x}"
        if session.endswith("-session"):
            folder = f"/private/tmp/bolt-{token}"
            env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SHELL": "/bin/zsh", "USER": "root",
                   "LOGNAME": "root", "HOME": "/var/root", "TERM": "xterm-256color",
                   "SSH_CONNECTION": "10.49.56.10 52144 10.49.40.21 22"}
        else:
            folder = f"/private/tmp/com.apple.mdmclient.script.{token}"
            env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SHELL": "/bin/sh", "USER": "root",
                   "LOGNAME": "root", "HOME": "/var/root", "TMPDIR": "/private/tmp/"}
        path = f"{folder}/{name}"
        self.disk.add_file(path, script, mode=0o755)

        def cleanup(_status: int) -> None:
            shutil.rmtree(self.disk.host_path(folder), ignore_errors=True)

        # mdmclient keeps a script-job's output for the MDM console; here it lands beside
        # the machine, outside the Mac's disk, where the timeline can show it.
        output = f"{INSIDE}/run/{session}.out"
        self.spawn(["/bin/bash", path, *args], env, label=None, session=session,
                   stdout=output, stderr=output, on_exit=cleanup)

    def accepts_logins(self) -> bool:
        """True while an operator can log in: the Mac is up in macOS, not going down, and not
        in a macOS update's installer."""
        return self.boot is not None and self._going_down is None and self._update is None

    def power_loss_at_step(self, step: int) -> None:
        """Cuts the power just before global step `step` would run."""
        self._power_loss_steps.add(step)

    def tear_at_power_loss(self, mac_path: str, mode: str = "empty") -> None:
        """If `mac_path` was written in the last `config.unflushed_s` simulated seconds (and not
        renamed into place since) when the power goes, it comes back torn: "empty" or "short"."""
        self._tears[canonical(mac_path)] = check_mode(mode)

    def schedule(self, at_s: float, what: str) -> None:
        """A scenario event at simulated time `at_s`: "reboot", "halt", "power-loss" (the power
        comes back) or "power-off" (it does not)."""
        def fire() -> None:
            self.trace.append(self.clock.now_s, self.boot_count, "scheduled", what=what)
            if what == "power-loss":
                self._power_loss("scheduled")
            elif what == "power-off":
                self.event("power-loss", cause="scheduled, not restored")
                self._end_boot()
                self._tear_unflushed()
                self._finish(Verdict.POWER_OFF, "the power was cut and not restored")
            else:
                self.request_shutdown("halt" if what == "halt" else "reboot", cause=f"scheduled {what}")
        self.clock.call_at(at_s, f"scheduled {what}", fire, priority=-1)

    def schedule_action(self, at_s: float, label: str, action: Callable[[], None]) -> None:
        """Something the world does to the Mac at `at_s` (MDM delivers a file, a commit is
        pushed), whichever boot the Mac is in then."""
        def fire() -> None:
            self.event("scheduled", what=label)
            action()
            self._drain_files()
        self.clock.call_at(at_s, label, fire, priority=-1)

    def schedule_update(self, at_s: float, *, version: str, build: str, kernel_release: str,
                        reboots: int = 1, install: Callable[[], None] | None = None,
                        network_up_after_s: float | None = None) -> None:
        """MDM pushes a macOS update at `at_s`: the Mac restarts into the installer, which boots
        `reboots - 1` more times running Apple's code only (no third-party LaunchDaemons),
        then boots into the new version (macos-behaviour.md §9.1).

        `install` is what the installer does to the disk: it runs once, at the start of the
        first boot after the restart, before anything else runs. `network_up_after_s`, when
        given, is the network's delay in the first boot into the new version only."""
        def fire() -> None:
            self.event("scheduled", what=f"macOS update to {version} ({build})", reboots=reboots)
            self._update = Update(replace(self.config, macos_version=version, build_version=build,
                                          kernel_release=kernel_release), reboots, install,
                                  network_up_after_s)
            self.request_shutdown("reboot", cause=f"macOS update to {version}")
        self.clock.call_at(at_s, f"macOS update to {version}", fire, priority=-1)

    # -- running -----------------------------------------------------------------------

    def run(self) -> RunResult:
        """Boots the Mac and follows it until it is quiet, halted, or a limit is reached.
        A Machine runs once; its disk can be handed to a new Machine to run again."""
        if self._runtime_dir is not None:
            raise RuntimeError("this Machine has already run; make a new Machine on the same directory")
        # The socket path must stay short (108 bytes), so the runtime lives in /tmp.
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="macsim-"))
        self.runtime = Runtime.shared(self._native, cache_dir()).with_run_dir(self._runtime_dir)
        self._deadline = time.monotonic() + self.limits.real_s
        self._open_server()
        try:
            self._start_boot()
            while self.verdict is None:
                self._pump()
                if self.verdict is None:
                    self._schedule()
        finally:
            self._end_boot()
            self._close_server()
            self.trace.close()
            self._keep_outputs()
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
        return RunResult(self.verdict, self.boot_count, self.steps, self.clock.now_s, self.trace,
                         self.verdict_detail)

    def _keep_outputs(self) -> None:
        """Session outputs (the MDM script-job's) move from the runtime to the machine's folder."""
        for output in sorted(self._runtime_dir.glob("*.out")):
            with output.open("rb") as source, (self.directory / output.name).open("ab") as target:
                shutil.copyfileobj(source, target)

    def output(self, session: str = "mdm-script-job") -> str:
        """What a session (the MDM script-job) printed, across all boots of this machine."""
        path = self.directory / f"{session}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def _finish(self, verdict: Verdict, detail: str = "") -> None:
        if self.verdict is None:
            self.verdict = verdict
            self.verdict_detail = detail
            kind = "limit" if verdict.value.startswith("limit") else "quiet" if verdict is Verdict.QUIET else "end"
            self.trace.append(self.clock.now_s, self.boot_count, kind, verdict=verdict.value, detail=detail)

    def event(self, kind: str, *, pid: int | None = None, job: str | None = None, **data) -> None:
        self.trace.append(self.clock.now_s, self.boot_count, kind, pid=pid, job=job, **data)
        if kind == "file":
            self.unflushed.note_event(data, self.clock.now_s)

    # -- boots -------------------------------------------------------------------------

    def _start_boot(self) -> None:
        if self.boot_count >= self.limits.boots:
            self._finish(Verdict.LIMIT_BOOTS, f"the Mac would boot again (boot {self.boot_count + 1}; the limit is {self.limits.boots})")
            return
        self.boot_count += 1
        if self.boot_count > 1:
            self.clock.skip(self.config.boot_duration_s)
        removed = [p for folder in ("/private/tmp", "/private/var/run") for p in self.disk.empty_dir(folder)]
        self.event("boot", removed_at_boot=len(removed), **self._disk_facts())
        self._going_down = None
        self._teardown_started = False
        self._users = {}
        self._contexts = {}
        self._spawns.clear()
        self._by_ns_pid.clear()
        self._pending.clear()
        self._outside_waits.clear()
        self._holder = None
        self._acks_outstanding = 0
        self.boot = Boot(self._bwrap, self.disk.root, self.runtime, tuple(self.ro_binds))
        self._selector.register(self.boot.events_fd, selectors.EVENT_READ, "init")
        # Not in the selector: file changes are drained at each step, so that each change
        # belongs to the step that made it.
        self._watch = DiskWatch(self.disk.root)
        self._await_init_ready()
        if self._update is not None:
            self._installer_boot()
            return
        self.network.booted()
        self.launchd.boot()
        for hook in self._boot_hooks:
            hook(self)

    def _disk_facts(self) -> dict:
        """What is on disk at a boot that the invariants need: the daemons, the labels disabled
        in launchd's override database, the semaphore."""
        daemons = self.inside_path("/Library/LaunchDaemons")
        return {"daemons": sorted(os.listdir(daemons)) if daemons else [],
                "disabled": sorted(label for label, off in self.launchd.overrides().items() if off),
                "semaphore": self.inside_path("/private/var/tmp/semaphore/run-buildbot") is not None}

    def _installer_boot(self) -> None:
        """A boot of the macOS installer: only Apple's code runs, then it restarts. The last
        one is the first boot into the new version."""
        update = self._update
        update.boots_left -= 1
        if update.boots_left > 0:
            self.event("installer-boot", boots_left=update.boots_left)
        if update.install is not None:
            install, update.install = update.install, None
            install()
            self._drain_files()
        if update.boots_left == 0:
            self._update = None
            self.config = update.config
            self.network.booted(update.network_up_after_s)
            self.event("macos-updated", version=update.config.macos_version,
                       build=update.config.build_version)
            self.launchd.boot()
            for hook in self._boot_hooks:
                hook(self)
            return
        self.network.booted()
        self.clock.call_later(INSTALLER_BOOT_S, "installer restarts",
                              lambda: self.request_shutdown("reboot", cause="macOS installer"))

    def _await_init_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for words in self._read_init_events(block=True):
                if words and words[0] == "ready":
                    return
        raise RuntimeError("the Mac's init did not start within 10 s")

    def _end_boot(self) -> None:
        if self.boot is None:
            return
        self.last_loaded = sorted(self.launchd.jobs)
        self.launchd.forget_boot()
        # Kill first: a process whose connection closes while it is still alive would take
        # the missing answer as a go-ahead.
        self.boot.power_off()
        for conn in list(self._conns.values()):
            self._drop(conn)
        try:
            self._selector.unregister(self.boot.events_fd)
        except (KeyError, ValueError):
            pass
        if self._watch:
            self._drain_files()
            self._watch.close()
            self._watch = None
        self.boot = None
        self.clock.cancel_scope("boot")

    def request_shutdown(self, how: str, *, cause: str, pid: int | None = None) -> None:
        """launchd begins a shutdown ("reboot" or "halt") after the current step."""
        if self._going_down is None:
            self._going_down = how
            self.event("shutdown", pid=pid, job=self._holder.job if self._holder else None, how=how,
                       cause=cause)

    def _power_loss(self, cause: str) -> None:
        self.event("power-loss", cause=cause)
        self._end_boot()
        self._tear_unflushed()
        if self.verdict is None:
            self._start_boot()

    def _tear_unflushed(self) -> None:
        """Data not yet on disk when the power went: the files asked for that are recent enough."""
        for path in self.unflushed.recent(self.clock.now_s, self.config.unflushed_s):
            mode = self._tears.get(path)
            if mode is not None and (size := tear(self.disk.host_path(path), mode)) is not None:
                self.event("torn", path=path, mode=mode, size=size,
                           written_at_s=self.unflushed.written_at[path])
        self.unflushed.flush()

    def _teardown(self) -> None:
        """SIGTERM to every process, SIGKILL after the grace period (§8.3)."""
        self._teardown_started = True
        self.launchd.stop_all()
        self._send_init(lambda boot: boot.kill_all(signal.SIGTERM))
        self.clock.call_later(self.config.shutdown_grace_s, "shutdown SIGKILL", self._finish_shutdown,
                              scope="boot")

    def _finish_shutdown(self) -> None:
        how = self._going_down
        self._end_boot()
        self.unflushed.flush()  # a graceful shutdown writes everything out
        if how == "halt":
            self._finish(Verdict.HALTED, "the Mac was shut down without restart")
        elif self.verdict is None:
            self._start_boot()

    # -- the controller loop -----------------------------------------------------------

    def _drain_nowait(self) -> bool:
        """Reads whatever already arrived; True if anything did."""
        before = self._activity
        self._pump(timeout_s=0)
        return self._activity != before

    def _pump(self, timeout_s: float | None = None) -> None:
        if timeout_s is None:
            timeout_s = 0 if self._quiet_hint else self._poll_s
        ready = self._selector.select(timeout_s)
        self._idle = not ready and timeout_s > 0
        for key, _ in ready:
            self._activity += 1
            what = key.data
            if what == "server":
                self._accept()
            elif what == "init":
                self._read_init_events(block=False)
            else:
                self._read_conn(what)
        if time.monotonic() > self._deadline:
            self._finish(Verdict.LIMIT_REAL, f"{self.limits.real_s:g} real seconds elapsed")

    def _schedule(self) -> None:
        if self.boot is None:
            if self.verdict is None:
                self._start_boot()
            return
        if self._acks_outstanding:
            return
        if self._going_down and not self._teardown_started:
            # Let every process reach its next step (or block) first: where the SIGTERM finds
            # the caller of `shutdown` must not depend on timing.
            if not self.boot.quiescent():
                return
            if not self._drain_nowait():
                self._drain_files()
                self._teardown()
            return
        if self._pending and len(self._pending) == 1 and self._only_one_can_run(self._pending[0]):
            # The others are blocked, so anything they sent is already in our sockets.
            if not self._drain_nowait():
                self._grant(self._pending[0])
            return
        if not self._pending and not (self._idle or self._quiet_hint):
            return  # someone is at work and said nothing new: no reason to look yet
        self._quiet_hint = False
        if not self.boot.quiescent():
            self._poll_s = min(self._poll_s * 2, POLL_MAX_S)
            return
        self._poll_s = POLL_MIN_S
        if self._drain_nowait():
            return  # a message sent before everyone blocked: decide again with it
        if self._pending:
            ordered = sorted(self._pending, key=lambda r: (r.ns_pid, r.kind))
            # Draw only for a real choice: whether a lone request was granted here or on the
            # fast path depends on timing, and must not shift the seeded stream.
            pick = self.prng.child("schedule").randrange(len(ordered)) if len(ordered) > 1 else 0
            self._grant(ordered[pick])
            return
        self._drain_files()
        timer = self.clock.next_due()
        if timer is not None:
            if timer.at_s > self.limits.simulated_s:
                self._finish(Verdict.LIMIT_SIMULATED, f"the next event is at {timer.at_s:g} s")
                return
            due = timer.at_s
            while (timer := self.clock.next_due()) is not None and timer.at_s == due and self.boot:
                self.clock.advance()
            return
        live = [p for p in self.boot.processes().values() if p.name != "macsim-init"]
        if self._teardown_started:
            self._finish_shutdown()
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

    def wait_for_outside_work(self, call: Call) -> None:
        """A model's process now waits for work from outside the Mac (a worker for tasks):
        if nothing else is left to happen, the run ends `idle`, not `blocked`."""
        self._outside_waits.append(self._holder.conn)

    def _confirm_blocked(self) -> bool:
        """A run must not end on a glimpse: look again, over about a tenth of a real second."""
        for _ in range(BLOCKED_CONFIRMATIONS):
            if self._drain_nowait() or self._pending or not self.boot.quiescent(settle_s=0.02):
                return False
        return True

    def _only_one_can_run(self, request: Request) -> bool:
        """True when every other process of the boot is a blocked ancestor of the requester."""
        table = self.boot.processes()
        me = request.conn.host_pid
        if me not in table:
            return False
        ancestors = set(self.boot.ancestors(me, table))
        return all(pid == me or (pid in ancestors and info.state == "S") for pid, info in table.items())

    def _grant(self, request: Request) -> None:
        self._pending.remove(request)
        if request.conn.closed:
            return
        self.steps += 1
        self._drain_files()
        if self.steps in self._power_loss_steps:
            self._power_loss(f"injected before step {self.steps}")
            return
        if self.steps > self.limits.steps:
            self._finish(Verdict.LIMIT_STEPS, f"{self.limits.steps} steps")
            return
        self._holder = request
        request.user, request.job = self._identify(request.conn)
        if request.kind == "call":
            self._answer_call(request)
        else:
            self.event("step", pid=request.ns_pid, job=request.job,
                       line=request.line, file=request.source, step=self.steps)
            request.conn.send(b"\n" if request.kind == "line" else encode("go"))

    # -- connections -------------------------------------------------------------------

    def _open_server(self) -> None:
        path = self.runtime.socket_path
        if path.exists():
            path.unlink()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._server.setblocking(False)
        self._selector.register(self._server, selectors.EVENT_READ, "server")

    def _close_server(self) -> None:
        if self._server is not None:
            self._selector.unregister(self._server)
            self._server.close()
            self._server = None
        self._selector.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conn = Conn(sock)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)
            self._poll_s = POLL_MIN_S

    def _drop(self, conn: Conn) -> None:
        # No quiet hint here: a client hangs up as it exits, and its parent is about to run.
        conn.closed = True
        self._pending = [r for r in self._pending if r.conn is not conn]
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        self._conns.pop(conn.sock.fileno(), None)
        conn.sock.close()

    def _read_conn(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        self._poll_s = POLL_MIN_S
        if conn.line_mode:
            self._read_lines(conn, data)
            return
        for fields in conn.reader.feed(data):
            self._on_frame(conn, fields)
        if conn.line_mode:
            leftover = conn.reader.take_rest()
            if leftover:
                self._read_lines(conn, leftover)

    def _read_lines(self, conn: Conn, data: bytes) -> None:
        conn.line_buffer += data
        *lines, conn.line_buffer = conn.line_buffer.split(b"\n")
        for raw in lines:
            _, line, source = (raw.decode("utf-8", "replace").split(" ", 2) + ["", ""])[:3]
            self._pending.append(Request(conn, "line", conn.ns_pid, line=line, source=source))

    def _on_frame(self, conn: Conn, fields: list[bytes]) -> None:
        kind = fields[0].decode()
        conn.ns_pid = int(fields[3])
        if kind == "bash":
            argv, _ = argv_env(fields)
            self.event("process-start", pid=conn.ns_pid, job=self._identify(conn)[1],
                       argv=argv, cwd=fields[2].decode("utf-8", "replace"))
            conn.line_mode = True
            conn.send(encode("ok"))
        elif kind == "step":
            self._pending.append(Request(conn, "step", conn.ns_pid, line=fields[5].decode(),
                                         source=fields[6].decode("utf-8", "replace")))
        else:
            self._pending.append(Request(conn, "call", conn.ns_pid, fields=fields))

    def _answer_call(self, request: Request) -> None:
        fields = request.fields
        name = fields[1].decode()
        argv, env = argv_env(fields)
        cwd = fields[2].decode("utf-8", "replace")
        host_pid = request.conn.host_pid
        call = Call(name=name, argv=argv, cwd=cwd, env=env, pid=request.ns_pid, host_pid=host_pid,
                    user=request.user, job=request.job, machine=self)
        conn = request.conn

        def reply(result, *, record: bool = False) -> None:
            if record:
                self.event("call-answered", pid=call.pid, job=call.job, name=name,
                           **describe(result))
            send_result(conn, result)

        call.reply = lambda result: reply(result, record=True)
        handler = shims.HANDLERS.get(name)
        if handler is None:
            result = Answer(127, "", f"not simulated: {name}\n")
            self.event("not-simulated", pid=call.pid, job=call.job, name=name, argv=argv, cwd=cwd)
        else:
            result = handler(call)
        self.event("call", pid=call.pid, job=call.job, name=name, argv=argv, cwd=cwd,
                   user=call.user, step=self.steps, **describe(result))
        if isinstance(result, Exec):
            # What the exec'd command writes belongs to the user it now runs as (sudo -u).
            request.conn.identity = None
            request.user, request.job = self._identify(request.conn)
        if result is DEFERRED:
            self._quiet_hint = True
        else:
            self._await_acks()
            reply(result)

    def _await_acks(self) -> None:
        """Lets the signals and spawns a handler asked of init happen before its caller hears
        back: a caller that ran on first (say, past the bootout of its own job) would meet the
        SIGTERM a step later in one run than in another."""
        deadline = time.monotonic() + 5
        while self._acks_outstanding and self.boot is not None and self.boot.alive \
                and time.monotonic() < deadline:
            self._read_init_events(block=True)

    # -- init and processes ------------------------------------------------------------

    def _send_init(self, command: Callable[[Boot], None]) -> None:
        if self.boot and self.boot.alive:
            self._acks_outstanding += 1
            command(self.boot)

    def spawn(self, argv: list[str], env: dict[str, str], *, label: str | None, session: str | None = None,
              user: str = "root", cwd: str = "/", stdout: str = "", stderr: str = "",
              on_exit: Callable[[int], None] | None = None) -> Spawn:
        """Starts a new process session inside the Mac (a launchd job, or a script-job)."""
        spawn = Spawn(self._next_spawn_id, argv, user, label or session, on_exit)
        self._next_spawn_id += 1
        self._spawns[spawn.spawn_id] = spawn
        self._send_init(lambda boot: boot.spawn(spawn.spawn_id, argv, env, cwd=cwd, stdout=stdout,
                                                stderr=stderr))
        return spawn

    def signal(self, ns_pid: int, sig: int, *, group: bool = False) -> None:
        self._send_init(lambda boot: (boot.killpg if group else boot.kill)(ns_pid, sig))

    def _read_init_events(self, *, block: bool) -> list[list[str]]:
        if self.boot is None:
            return []
        if block:
            selectors_ = selectors.DefaultSelector()
            selectors_.register(self.boot.events_fd, selectors.EVENT_READ)
            selectors_.select(1.0)
            selectors_.close()
        events = self.boot.read_events()
        for words in events:
            if words[0] == "spawned":
                self._acks_outstanding = max(0, self._acks_outstanding - 1)
                spawn = self._spawns.get(int(words[1]))
                if spawn:
                    spawn.ns_pid = int(words[2])
                    self._by_ns_pid[spawn.ns_pid] = spawn
                    self._users[spawn.ns_pid] = spawn.user
                    self.event("process-start", pid=spawn.ns_pid, job=spawn.label, argv=spawn.argv,
                               user=spawn.user)
            elif words[0] == "ack":
                self._acks_outstanding = max(0, self._acks_outstanding - 1)
            elif words[0] == "exit":
                self._on_exit(int(words[1]), int(words[2]))
        return events

    def _on_exit(self, ns_pid: int, raw_status: int) -> None:
        self._quiet_hint = True
        spawn = self._by_ns_pid.pop(ns_pid, None)
        if spawn is None:
            return
        status = os.waitstatus_to_exitcode(raw_status)
        self._drain_files()
        self.event("process-exit", pid=ns_pid, job=spawn.label,
                   **({"signal": signal.Signals(-status).name} if status < 0 else {"status": status}))
        if spawn.on_exit:
            spawn.on_exit(status)

    # -- who is who --------------------------------------------------------------------

    def _identify(self, conn: "Conn") -> tuple[str, str | None]:
        """(user, job) of a connection's process, looked up once: a process keeps both for
        its life, except through sudo's exec, which sets them again. The user comes from
        launchd's UserName or sudo, the job from the spawn the process descends from."""
        if conn.identity is None:
            lineage = self._lineage(conn.host_pid)
            user = next((self._users[i.ns_pid] for i in lineage if i.ns_pid in self._users), "root")
            job = next((self._contexts.get((i.host_pid, i.started)) or self._by_ns_pid[i.ns_pid].label
                        for i in lineage if (i.host_pid, i.started) in self._contexts
                        or i.ns_pid in self._by_ns_pid), None)
            conn.identity = (user, job)
        return conn.identity

    def _lineage(self, host_pid: int) -> list[ProcInfo]:
        if self.boot is None:
            return []
        table = self.boot.processes()
        chain = [host_pid, *self.boot.ancestors(host_pid, table)]
        return [table[pid] for pid in chain if pid in table]

    def set_user(self, ns_pid: int, user: str) -> None:
        self._users[ns_pid] = user

    def enter_context(self, host_pid: int, job: str) -> None:
        """From its next exec on, the process and its descendants count as part of `job`
        (how `ssh root@localhost` puts a command in an ssh session). Kept by host pid and start
        time: pids come round again in a long boot, that pair does not."""
        info = read_proc(host_pid)
        if info is not None:
            self._contexts[(host_pid, info.started)] = job

    # -- files -------------------------------------------------------------------------

    def _drain_files(self) -> None:
        if self._watch is None:
            return
        holder = self._holder
        user = holder.user if holder else "root"
        changes = self._watch.drain()
        for path, change, source in changes:
            if change == "renamed":
                self.disk.rename(source, path)
            elif change in ("created", "moved-here") and user != "root":
                self.disk.record_created(path, user)
            elif change == "removed":
                self.disk.forget(path)
            extra = {"from": source} if source else {}
            if change in ("created", "moved-here", "renamed") and \
                    self.disk.host_path(path, follow_last=False).is_dir():
                extra["directory"] = True  # a power cut cannot tear it (unflushed.py)
            if change != "removed" and path.endswith(".plist") and path.startswith(DAEMON_DIRS_ON_DISK):
                extra["launchd"] = self.launchd.verdict_on(path)
            self.event("file", pid=holder.ns_pid if holder else None, job=holder.job if holder else None,
                       path=path, change=change, **extra)
        if changes:  # PathState jobs only care when something changed; most steps change nothing
            self.launchd.files_changed()

    def inside_path(self, mac_path: str, cwd: str = "/") -> Path | None:
        """The host path that `mac_path` names inside the Mac, or None if nothing is there."""
        try:
            host = self.disk.host_path(mac_path, cwd=cwd)
        except OutsideDisk as outside:
            resolved = outside.mac_path
            for mac_dir in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/libexec"):
                if os.path.dirname(resolved) == mac_dir:
                    link = self.runtime.command_dir(mac_dir) / os.path.basename(resolved)
                    return link if os.path.lexists(link) else None
            if resolved.startswith("/usr/"):
                host = HOST_USR / resolved[len("/usr/"):]
                return host if host.exists() else None
            return None
        return host if os.path.lexists(host) else None


