"""One simulated Mac: its disk, its boots, and the controller that orders every step.

The controller is the Mac's kernel and launchd at once. Every shim call and every simple
command of a bash on the Mac is a *step*: the process asks, and waits until the controller
lets it go. The controller lets one go at a time. With one process asking and everything else
merely waiting for it, the answer is immediate; when several ask at once, it waits until no
process of the Mac is doing real work, then picks one with the seeded PRNG. The clock moves
only in that same quiet state, when nothing but the clock can wake anyone. So concurrent jobs
get a reproducible order, and a thousand `sleep 60` cost no real minutes.

The parts, each owning one thing: `Switchboard` (channel.py) the socket and what waits to be
granted; `Scheduler` (scheduler.py) the decision of what runs next; `Boots` (boots.py) boots,
shutdowns, power cuts and updates; `Init` (init.py) the processes started and signalled;
`Identity` (identity.py) who is who; `FileChanges` (changes.py) the disk's changes per step;
`Launchd` (launchd.py) the system domain. `Machine` wires them, answers shim calls, and is what
a caller (and, through the `Mac` protocol of shims/calls.py, a command or a model of the world)
holds.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Callable

from ..errors import SimulatorFault
from ..trace import Trace
from .boots import Boots
from .bounds import MIB, Bounds
from .bridge import cache_dir, native_program
from .changes import FileChanges
from .answering import Answering
from .channel import Switchboard
from .clock import Clock
from .commands import builtin
from .config import Limits, MachineConfig, Verdict
from .confine import NO_ROOM, RUNTIME_BYTES, Volume, capacity_bytes, remove_tree, set_free_space
from .disk import Disk
from .paths import OutsideDisk
from .identity import Identity
from .init import Init, Spawn
from .launchd import Launchd
from .network import Network
from .prng import Prng
from .processes import find_bwrap
from .sandbox import HOST_USR, Runtime
from .scheduler import Scheduler
from .sessions import start_session
from .stepbuiltin import INSIDE_PATH as STEP_BUILTIN_INSIDE, step_builtin
from .watch import release as release_watch
from .shims.calls import Commands


def _inside_path(disk: Disk, runtime: Runtime, mac_path: str, cwd: str) -> Path | None:
    """The host path that `mac_path` names inside the Mac, or None if nothing is there: on the
    disk, or in the command directories and the host's /usr that the sandbox shows."""
    try:
        host = disk.host_path(mac_path, cwd=cwd)
    except OutsideDisk as outside:
        resolved = outside.mac_path
        for mac_dir in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/libexec"):
            if os.path.dirname(resolved) == mac_dir:
                link = runtime.command_dir(mac_dir) / os.path.basename(resolved)
                return link if os.path.lexists(link) else None
        if resolved.startswith("/usr/"):
            host = HOST_USR / resolved[len("/usr/"):]
            return host if host.exists() else None
        return None
    return host if os.path.lexists(host) else None


@functools.cache
def _shared_runtime(cache: Path) -> tuple[Runtime, Path | None]:
    """The read-only runtime and the step builtin, found (or built) once per process: checking
    them hashes the shim client, which costs more than a short boot's steps."""
    return Runtime.shared(native_program(), cache), step_builtin(cache)


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
        self.seed = seed
        self.limits = limits
        disk_root = self.directory / "disk"
        self.disk = Disk(disk_root) if disk_root.exists() else Disk.create(disk_root, hostname=config.hostname.split(".")[0])
        self.prng = Prng(seed)
        self.clock = Clock()
        self.trace = Trace(trace_path)
        self.verdict: Verdict | None = None
        self.verdict_detail = ""
        self.commands = builtin()
        self._ro_binds: list[tuple[Path, str]] = []  # host folders the world shows inside, read-only
        self._runtime_dir: Path | None = None
        self.runtime: Runtime | None = None
        self.launchd = Launchd(self)
        self.network = Network(self.clock, self.event, config.network_up_after_s)
        self.init = Init(self.event, before_exit=self._drain_before_exit, on_exit=self._hint_quiet)
        self.identity = Identity(self.init)
        self.init.before_signal = lambda pid, sig, group: self.scheduler.release_signalled(pid, sig, group)
        self.answering = Answering(self, commands=self.commands, identity=self.identity, init=self.init,
                                   scheduler=lambda: self.scheduler)
        self.switchboard = Switchboard(on_hello=self.answering.hello, identify=self.answering.identify)
        self.changes = FileChanges(self.disk, self.launchd, self.event)
        self.boots = Boots(config=config, max_boots=limits.boots, disk=self.disk, clock=self.clock,
                           launchd=self.launchd, network=self.network, init=self.init, identity=self.identity,
                           switchboard=self.switchboard, changes=self.changes, event=self.event,
                           finish=self._finish, finished=self._finished, holder=lambda: self.scheduler.holder,
                           forget_boot=lambda: self.scheduler.forget_boot())
        self.scheduler = Scheduler(limits=limits, clock=self.clock, switchboard=self.switchboard, init=self.init,
                                   boots=self.boots, changes=self.changes, identity=self.identity,
                                   stream=self.prng.child("schedule"), answer=self.answering.call,
                                   event=self.event, finish=self._finish, finished=self._finished)

    # -- what kind of Mac, and where it is in its life --

    @property
    def config(self) -> MachineConfig:
        return self.boots.config

    @property
    def boot_count(self) -> int:
        return self.boots.count

    @property
    def steps(self) -> int:
        return self.scheduler.steps

    @property
    def last_loaded(self) -> list[str]:  # launchd's labels when the last boot ended
        return self.boots.last_loaded

    @property
    def shared_dir(self) -> Path:
        return self.runtime.run

    # -- preparing a run ---------------------------------------------------------------

    def at_boot(self, hook: Callable[[], None]) -> None:
        """Calls `hook()` after launchd has loaded its daemons, at every boot."""
        self.boots.hooks.append(hook)

    def add_commands(self, commands: Commands) -> None:
        """Commands a model of the world answers on this Mac (puppet, facter, …)."""
        self.commands.update(commands)

    def show_read_only(self, host: Path, inside: str) -> None:
        """Shows a host file or folder inside the Mac at `inside`, read-only, at every boot."""
        self._ro_binds.append((host, inside))

    def report_at_boot(self, name: str, mac_path: str) -> None:
        """Every boot event says whether `mac_path` exists then, as `name` (the invariants read it)."""
        self.boots.reported[name] = mac_path

    def start_script(self, script: bytes, *, name: str = "script.sh", args: tuple[str, ...] = (),
                     at_s: float = 0.0, session: str = "mdm-script-job", env: dict[str, str] | None = None) -> None:
        """Starts `script` once as root in the first boot, `at_s` simulated seconds in, in a
        session of its own (`start_session`), with `env` added to the session's environment."""
        def at_boot() -> None:
            if self.boot_count != 1:
                return

            def start() -> None:
                self.start_session(script, name=name, args=args, session=session, env=env)
            if at_s <= self.clock.now_s:
                start()
            else:
                self.clock.call_at(at_s, f"start {session}", start, scope="boot")
        self.at_boot(at_boot)

    def start_session(self, script: bytes, *, name: str = "script.sh", args: tuple[str, ...] = (),
                      session: str = "mdm-script-job", env: dict[str, str] | None = None) -> None:
        """Starts `script` now, as root, in a new session called `session` (sessions.py)."""
        start_session(self, script, name=name, args=args, session=session, env=env or {})

    def accepts_logins(self) -> bool:
        """True while an operator can log in: the Mac is up in macOS, not going down, and not
        in a macOS update's installer."""
        return self.boots.accepts_logins()

    def power_loss_at_step(self, step: int, after_changes: int | None = None) -> None:
        """Cuts the power just before global step `step` would run; with `after_changes`, in
        that step instead, once its command(s) made that many changes to the disk (cuts.py)."""
        if after_changes is None:
            self.scheduler.power_loss_steps.add(step)
        else:
            self.scheduler.power_loss_changes[step] = after_changes
            self.stop_changes()

    def stop_changes(self) -> None:
        """Every change a process makes to the disk waits for the controller (cuts.py), which
        can cut the power between two changes of one command; `scheduler.before_change` sees each."""
        self.boots.stop_changes(self.scheduler.on_change, lambda: self.scheduler.steps)

    def tear_at_power_loss(self, mac_path: str, mode: str = "empty") -> None:
        """If `mac_path` was written in the last `config.unflushed_s` simulated seconds (and not
        renamed into place since) when the power goes, it comes back torn: "empty" or "short"."""
        self.boots.tear_at_power_loss(mac_path, mode)

    def schedule(self, at_s: float, what: str) -> None:
        """A scenario event at simulated time `at_s`: "reboot", "halt", "power-loss" (the power
        comes back) or "power-off" (it does not)."""
        def fire() -> None:
            self.trace.append(self.clock.now_s, self.boot_count, "scheduled", what=what)
            if what == "power-loss":
                self.boots.power_loss("scheduled")
            elif what == "power-off":
                self.boots.power_off()
                self._finish(Verdict.POWER_OFF, "the power was cut and not restored")
            else:
                self.request_shutdown("halt" if what == "halt" else "reboot", cause=f"scheduled {what}")
        self.clock.call_at(at_s, f"scheduled {what}", fire, priority=-1)

    def schedule_action(self, at_s: float, label: str, action: Callable[[], None]) -> None:
        """Something the world does to the Mac at `at_s` (MDM delivers a file, a commit is
        pushed), whichever boot the Mac is in then."""
        def fire() -> None:
            self.event("scheduled", what=label)
            try:
                action()
            except OSError as error:
                if error.errno not in NO_ROOM:
                    raise
                self.event("disk-full", detail=f"{label}: failed, {os.strerror(error.errno)}")
            self.changes.drain(self.scheduler.holder)
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
            self.boots.begin_update(version=version, build=build, kernel_release=kernel_release,
                                    reboots=reboots, install=install, network_up_after_s=network_up_after_s)
        self.clock.call_at(at_s, f"macOS update to {version}", fire, priority=-1)

    # -- running -----------------------------------------------------------------------

    def run(self) -> RunResult:
        """Boots the Mac and follows it until it is quiet, halted, or a limit is reached.
        A Machine runs once; its disk can be handed to a new Machine to run again."""
        if self._runtime_dir is not None:
            raise SimulatorFault("this Machine has already run; make a new Machine on the same directory")
        set_free_space(self.disk.root, self.config.disk_free_mb * MIB)  # the host's files are in place
        self._open_runtime()
        return self._follow(self.boots.start)

    def continue_in(self, directory: Path, begin: Callable[[], None], runtime_files: Path) -> RunResult:
        """A fork of a running machine, detached from its boot (snapshot.py), moves to `directory` (a copy
        of its folder; `runtime_files` go in a new runtime) and goes on: `begin()`, then every boot."""
        old, self.directory = self.directory, Path(directory)
        self.disk.root = self.directory / self.disk.root.relative_to(old)
        self.disk.ownership.table_path = self.directory / self.disk.ownership.table_path.relative_to(old)
        self._ro_binds = [(self.directory / host.relative_to(old) if host.is_relative_to(old) else host, inside)
                          for host, inside in self._ro_binds]
        self._open_runtime()
        for kept in sorted(runtime_files.iterdir()):  # the network's flag, session outputs
            shutil.copyfile(kept, self._runtime_dir / kept.name)
        return self._follow(begin)

    def _open_runtime(self) -> None:
        # The socket path must stay short (108 bytes), so the runtime lives in /tmp.
        self._runtime_dir = Path(tempfile.mkdtemp(prefix=f"macsim-{os.getpid()}-"))  # `macsim clean` knows it
        Volume.mount(self._runtime_dir, RUNTIME_BYTES)  # what sessions print is bounded too
        self.bounds = Bounds.create(self.limits, capacity_bytes(self.disk.root))
        self.scheduler.breach = self.bounds.breach
        shared, builtin = _shared_runtime(cache_dir())
        self.runtime = shared.with_run_dir(self._runtime_dir)
        self.network.shared_dir = self.runtime.run
        binds = tuple(self._ro_binds) + (((builtin, STEP_BUILTIN_INSIDE),) if builtin else ())
        self.boots.prepare(find_bwrap(), self.runtime, binds, preexec=self.bounds.preexec)
        self.switchboard.open(self.runtime.socket_path)

    def _follow(self, begin: Callable[[], None]) -> RunResult:
        try:
            begin()
            self.scheduler.run()
        finally:
            self.boots.end()
            self.bounds.close()
            release_watch(self.disk.root)
            self.switchboard.close()
            self.trace.close()
            self._keep_outputs()
            remove_tree(self._runtime_dir)
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

    def _finished(self) -> bool:
        return self.verdict is not None

    def _hint_quiet(self) -> None:
        self.scheduler.quiet_hint = True

    def _drain_before_exit(self) -> None:
        """What an exiting process changed on the disk goes in the trace before its exit. Not
        during a shutdown's grace period: there, processes run their traps without steps, at
        the same time, and how far the others had got when one exits is a matter of real
        timing; their changes are taken together once the boot is quiet (the scheduler drains
        before the clock moves to the SIGKILL), in one order, whatever the timing."""
        if not self.boots.teardown_started:
            self.changes.drain(self.scheduler.holder)

    # -- the kernel's services (kernel.Kernel, shims.calls.Mac) --------------------------

    def event(self, kind: str, *, pid: int | None = None, job: str | None = None, **data) -> None:
        self.trace.append(self.clock.now_s, self.boot_count, kind, pid=pid, job=job, **data)
        if kind == "file":
            self.boots.unflushed.note_event(data, self.clock.now_s)

    def random(self, name: str) -> Random:
        return self.prng.child(name)

    def spawn(self, argv: list[str], env: dict[str, str], *, label: str | None, session: str | None = None,
              user: str = "root", cwd: str = "/", stdout: str = "", stderr: str = "",
              on_exit: Callable[[int], None] | None = None) -> Spawn:
        return self.init.spawn(argv, env, label=label, session=session, user=user, cwd=cwd, stdout=stdout,
                               stderr=stderr, on_exit=on_exit)

    def signal(self, ns_pid: int, sig: int, *, group: bool = False) -> None:
        self.init.signal(ns_pid, sig, group=group)

    def request_shutdown(self, how: str, *, cause: str, pid: int | None = None) -> None:
        """launchd begins a shutdown ("reboot" or "halt") after the current step."""
        self.boots.request_shutdown(how, cause=cause, pid=pid)

    def set_user(self, ns_pid: int, user: str) -> None:
        self.identity.set_user(ns_pid, user)

    def enter_context(self, host_pid: int, job: str) -> None:
        self.identity.enter_context(host_pid, job)

    def wait_for_outside_work(self) -> None:
        self.scheduler.wait_for_outside_work()

    def inside_path(self, mac_path: str, cwd: str = "/") -> Path | None:
        """The host path that `mac_path` names inside the Mac, or None if nothing is there."""
        return _inside_path(self.disk, self.runtime, mac_path, cwd)
