"""launchd's system domain: loading plists at boot, and the life of each job.

At each boot launchd reads the daemon directories in no promised order (seeded here), checks
each plist as launchd does (it parses; it has a Label and a program; it is owned by root and
not group- or world-writable) and loads it unless its label is disabled in the override
database. Then it starts what should run: RunAtLoad, KeepAlive, StartInterval, PathState.
Facts and defaults: macos-behaviour.md §1–7.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from .kernel import Kernel
from .overrides import OverrideDatabase
from .plist import EDISABLED, EIO, JobSpec, PlistRejected, check_ownership, parse_job

DAEMON_DIRS = ("/System/Library/LaunchDaemons", "/Library/Apple/System/Library/LaunchDaemons",
               "/Library/LaunchDaemons")
DEFAULT_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
EX_CONFIG = 78
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGABRT, signal.SIGFPE}


@dataclass
class Job:
    """A loaded job and what launchd remembers about it in this boot."""

    spec: JobSpec
    pid: int | None = None  # as the Mac sees it
    runs: int = 0
    last_exit: int | None = None  # exit code, or -signal
    last_start_s: float | None = None
    removing: bool = False  # booted out while running: forget it once it exits
    stopping: bool = False
    restart_after_stop: bool = False  # kickstart -k
    loaded_disabled: bool = False  # loaded while its label was disabled
    spawn: object | None = field(default=None, repr=False)
    spawn_timer: object | None = field(default=None, repr=False)
    kill_timer: object | None = field(default=None, repr=False)
    interval_timer: object | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def running(self) -> bool:
        return self.pid is not None


class Launchd:
    """The system domain of one simulated Mac."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.jobs: dict[str, Job] = {}
        self.overrides = OverrideDatabase(kernel)
        self.shutting_down = False  # every process has had the shutdown's SIGTERM (stop_all)

    def is_disabled(self, spec: JobSpec) -> bool:
        return self.overrides.disabled(spec.label, spec.disabled_in_plist)

    # -- reading plists --

    def read_plist(self, mac_path: str, cwd: str = "/") -> JobSpec:
        """The job a plist defines, checked as launchd checks it; PlistRejected otherwise."""
        disk = self.kernel.disk
        host = self.kernel.inside_path(mac_path, cwd)
        if host is None or not host.is_file():
            raise PlistRejected(2, "No such file or directory")
        canonical = disk.resolve(mac_path, cwd=cwd)
        spec = parse_job(host.read_bytes(), canonical)
        owner, _group = disk.ownership.owner(canonical)
        check_ownership(owner, host.stat().st_mode)
        return spec

    def verdict_on(self, mac_path: str) -> str:
        """"ok" when launchd would load this plist at the next boot, else the reason."""
        try:
            self.read_plist(mac_path)
        except PlistRejected as rejected:
            return f"{rejected.code}: {rejected.reason}"
        return "ok"

    def boot(self) -> None:
        """Loads every daemon plist in a seeded order, then starts what runs at load."""
        self.jobs = {}
        self.shutting_down = False
        found = []
        for directory in DAEMON_DIRS:
            host = self.kernel.inside_path(directory)
            if host is None or not host.is_dir():
                continue
            for name in sorted(os.listdir(host)):
                if name.endswith(".plist") and not (host / name).is_symlink():
                    found.append(f"{directory}/{name}")
        # launchd globs without sorting and submits everything as one batch (§1.2).
        self.kernel.random(f"launchd-boot-{self.kernel.boot_count}").shuffle(found)
        for path in found:
            try:
                spec = self.read_plist(path)
            except PlistRejected as rejected:
                self.kernel.event("job-skipped", path=path, reason=rejected.reason, code=rejected.code)
                continue
            if spec.label in self.jobs:
                self.kernel.event("job-skipped", path=path, label=spec.label,
                                   reason=f"{spec.label}: Already loaded", code=EIO)
                continue
            self._add(spec, why="boot")
        for label in list(self.jobs):
            self._consider(self.jobs[label], reason="boot")

    def _add(self, spec: JobSpec, *, why: str) -> Job:
        disabled = self.is_disabled(spec)
        job = Job(spec, loaded_disabled=disabled)
        self.jobs[spec.label] = job
        self.kernel.event("job-loaded", job=spec.label, path=spec.path, how=why, disabled=disabled,
                           **({"ignored_keys": list(spec.ignored_keys)} if spec.ignored_keys else {}))
        if spec.start_interval_s:
            self._arm_interval(job)
        return job

    # -- loading and removing at run time (launchctl) --

    def load(self, spec: JobSpec, *, why: str) -> int:
        """Adds a job to the running domain; 0, or the launchctl error number."""
        existing = self.jobs.get(spec.label)
        if self.is_disabled(spec):
            return EDISABLED
        if existing is not None:
            # launchd keeps disabled services loaded but never starts them (§1.5): once enabled
            # (`load -w`), loading one again starts it as a fresh load would.
            if existing.loaded_disabled and existing.runs == 0 and not existing.running:
                existing.loaded_disabled = False
                self.kernel.event("job-loaded", job=spec.label, path=spec.path, how=why, disabled=False)
                self._consider(existing, reason="load")
                return 0
            return EIO
        job = self._add(spec, why=why)
        self._consider(job, reason="load")
        return 0

    def remove(self, label: str) -> bool:
        """Removes a job (bootout/unload/remove): stops it first if it runs. False if unknown."""
        job = self.jobs.get(label)
        if job is None:
            return False
        self._cancel_timers(job)
        if job.running:
            job.removing = True
            self.stop(job)
        else:
            del self.jobs[label]
            self.kernel.event("job-removed", job=label)
        return True

    # -- starting --

    def _consider(self, job: Job, *, reason: str) -> None:
        """Starts `job` if its conditions say it should run now."""
        if job.running or job.removing or self.is_disabled(job.spec):
            return
        spec = job.spec
        wanted = False
        if reason in ("boot", "load") and spec.starts_at_load:
            wanted = True
        elif reason == "exit":
            wanted = self._keep_alive_after_exit(job)
        if spec.keep_alive.path_state and self._path_state_holds(spec):
            wanted = True
        if wanted:
            self.start(job, why=reason)

    def _keep_alive_after_exit(self, job: Job) -> bool:
        keep = job.spec.keep_alive
        if keep.always:
            return True
        if keep.successful_exit is not None and job.last_exit is not None and job.last_exit >= 0:
            return (job.last_exit == 0) == keep.successful_exit
        if keep.crashed and job.last_exit is not None and job.last_exit < 0:
            return signal.Signals(-job.last_exit) in CRASH_SIGNALS
        return False

    def _path_state_holds(self, spec: JobSpec) -> bool:
        return any((self.kernel.inside_path(path) is not None) == want
                   for path, want in spec.keep_alive.path_state)

    def files_changed(self) -> None:
        for job in list(self.jobs.values()):
            if job.spec.keep_alive.path_state and not job.running:
                self._consider(job, reason="path")

    def start(self, job: Job, *, why: str, ignore_throttle: bool = False) -> None:
        """Spawns the job now, or when its ThrottleInterval allows (§6.3)."""
        if job.running or job.spawn_timer is not None:
            return
        now = self.kernel.clock.now_s
        if job.last_start_s is not None and not ignore_throttle:
            ready_at = job.last_start_s + job.spec.throttle_interval_s
            if ready_at > now:
                self.kernel.event("job-throttled", job=job.label, until_s=ready_at)
                job.spawn_timer = self.kernel.clock.call_at(
                    ready_at, f"throttled {job.label}", lambda: self._throttled_start(job, why), scope="boot")
                return
        self._spawn(job, why)

    def _throttled_start(self, job: Job, why: str) -> None:
        job.spawn_timer = None
        if self.jobs.get(job.label) is job and not job.removing and not self.is_disabled(job.spec):
            self._spawn(job, why)

    def _spawn(self, job: Job, why: str) -> None:
        spec, kernel = job.spec, self.kernel
        job.last_start_s = kernel.clock.now_s
        failure = self._spawn_failure(spec)
        if failure:
            job.last_exit = EX_CONFIG
            kernel.event("job-spawn-failed", job=job.label, reason=failure, last_exit=EX_CONFIG)
            self._after_exit(job)
            return
        user = spec.user_name or "root"
        env = self._environment(spec, user)
        for path in (spec.stdout_path, spec.stderr_path):
            if path:
                self._prepare_log(path, user)
        job.runs += 1
        kernel.event("job-started", job=job.label, why=why, argv=list(spec.arguments), user=user)
        spawn = kernel.spawn(list(spec.arguments), env, label=job.label, user=user,
                              cwd=spec.working_directory or "/", stdout=spec.stdout_path or "",
                              stderr=spec.stderr_path or "", on_exit=lambda status: self._on_exit(job, spawn, status))
        job.pid = -1  # running; the real pid arrives with init's report
        job.spawn = spawn

    def _spawn_failure(self, spec: JobSpec) -> str | None:
        program = spec.program
        if not program.startswith("/"):
            for directory in DEFAULT_PATH.split(":"):
                if self.kernel.inside_path(f"{directory}/{program}") is not None:
                    program = f"{directory}/{program}"
                    break
        host = self.kernel.inside_path(program)
        if host is None:
            return f"posix_spawn({program}): No such file or directory"
        if not os.path.islink(host) and not os.access(host, os.X_OK):
            return f"posix_spawn({program}): Permission denied"
        if spec.user_name and self.kernel.disk.accounts.account(spec.user_name) is None:
            return f"getpwnam(\"{spec.user_name}\") failed"
        if spec.working_directory and self.kernel.inside_path(spec.working_directory) is None:
            return f"non-existent working directory: {spec.working_directory}"
        return None

    def _environment(self, spec: JobSpec, user: str) -> dict[str, str]:
        """A root daemon gets PATH and XPC_* only; UserName adds the account's basics (§6.11)."""
        env = {"PATH": DEFAULT_PATH, "XPC_SERVICE_NAME": spec.label, "XPC_FLAGS": "0x0"}
        if spec.user_name:
            account = self.kernel.disk.accounts.account(spec.user_name)
            env.update(HOME=account.home, USER=account.name, LOGNAME=account.name, SHELL=account.shell,
                       TMPDIR="/private/tmp/")
        env.update(dict(spec.environment))
        return env

    def _prepare_log(self, mac_path: str, user: str) -> None:
        """launchd opens StandardOutPath/ErrorPath append-only, creating file and parent (§6.12)."""
        disk = self.kernel.disk
        host = disk.host_path(mac_path)
        if not host.parent.exists():
            host.parent.mkdir(parents=True)
        if not host.exists():
            host.touch(mode=0o644)
            if user != "root":
                disk.ownership.record_created(mac_path, user)

    # -- stopping and exits --

    def stop(self, job: Job) -> None:
        """SIGTERM to the main process; SIGKILL after ExitTimeOut; then the process group (§5.1)."""
        if not job.running or job.stopping:
            return
        job.stopping = True
        pid = job.spawn.ns_pid
        self.kernel.event("job-stopping", job=job.label, pid=pid)
        self.kernel.signal(pid, signal.SIGTERM)
        timeout_s = job.spec.exit_timeout_s if job.spec.exit_timeout_s is not None else self.kernel.config.exit_timeout_s
        if timeout_s > 0:
            job.kill_timer = self.kernel.clock.call_later(
                timeout_s, f"exit timeout {job.label}", lambda: self._exit_timeout(job))

    def _exit_timeout(self, job: Job) -> None:
        job.kill_timer = None
        if job.running and job.spawn.ns_pid:
            self.kernel.event("job-stopping", job=job.label, pid=job.spawn.ns_pid,
                               detail=f"Exit timeout elapsed ({job.spec.exit_timeout_s or self.kernel.config.exit_timeout_s} seconds). Killing")
            self.kernel.signal(job.spawn.ns_pid, signal.SIGKILL)

    def _on_exit(self, job: Job, spawn, status: int) -> None:
        job.pid = None
        job.stopping = False
        job.last_exit = status
        if job.kill_timer is not None:
            job.kill_timer.cancel()
            job.kill_timer = None
        if not job.spec.abandon_process_group and spawn.ns_pid and not self.shutting_down:
            self.kernel.signal(spawn.ns_pid, signal.SIGTERM, group=True)
        self.kernel.event("job-exited", job=job.label,
                           **({"signal": signal.Signals(-status).name} if status < 0 else {"status": status}))
        self._after_exit(job)

    def _after_exit(self, job: Job) -> None:
        if job.restart_after_stop and not job.removing:
            job.restart_after_stop = False
            self.start(job, why="kickstart -k")
            return
        if job.removing:
            self.jobs.pop(job.label, None)
            self.kernel.event("job-removed", job=job.label)
            return
        if job.spec.launch_only_once:
            # "Exited. Was only configured to run once." — and the job leaves the domain.
            self._cancel_timers(job)
            self.jobs.pop(job.label, None)
            self.kernel.event("job-removed", job=job.label, reason="LaunchOnlyOnce")
            return
        self._consider(job, reason="exit")

    def _cancel_timers(self, job: Job) -> None:
        for name in ("spawn_timer", "interval_timer"):
            timer = getattr(job, name, None)
            if timer is not None:
                timer.cancel()
                setattr(job, name, None)

    def _arm_interval(self, job: Job) -> None:
        def fire() -> None:
            if self.jobs.get(job.label) is not job:
                return
            if not job.running and not self.is_disabled(job.spec):
                self.start(job, why="StartInterval")
            self._arm_interval(job)
        job.interval_timer = self.kernel.clock.call_later(job.spec.start_interval_s, f"interval {job.label}", fire)

    def stop_all(self) -> None:
        """At shutdown: no job restarts, nor signals its group at exit: each process gets one SIGTERM."""
        self.shutting_down = True
        for job in self.jobs.values():
            self._cancel_timers(job)
            job.removing = True

    def forget_boot(self) -> None:
        """launchd's in-memory state does not survive the boot (§9)."""
        self.jobs = {}
