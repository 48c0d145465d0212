"""Whether every process of a boot is blocked, read from the boot's own /proc.

The boot's pid namespace has its own procfs (bwrap mounts it at /proc inside); the controller
reads it from the host through the root of the namespace's pid 1, in the Mac's own pids. A
census (`OwnProc.census`) knows for sure that nothing can run when every process is one the
controller knows to wait for it (a step, a call, a deferred answer), init sleeping, a sleeping
ancestor of a blocked process (a shell waits for its children), or a sleeping reader of an
empty pipe only blocked processes write to (`… | tee LOG`). It finds the boot busy when one
runs, and is unsure otherwise: the caller then takes a glimpse across a settle interval
(processes.Boot.quiescent).

A process just woken on another core reads as sleeping for a moment, until that core takes it
up: whoever wakes it must say so (`run_count` before, then again until it moved). The
scheduler does, for the processes it tells to go on and those it has init signal
(`woken_by`, `reads_from_the_controller`).
"""
from __future__ import annotations

import fcntl
import os
import signal
import termios


#: The boot's init, as the Mac sees it (bwrap's own init is pid 1).
INIT_NS_PID = 2
#: macsim's own descriptors inside the Mac start here (native/macsim.c, step.c).
OWN_FD_FLOOR = 190
#: What a census finds.
QUIET, BUSY, UNSURE = "quiet", "busy", "unsure"
#: States of a process that does not run until something wakes it (a stopped one included).
SLEEPING = ("S", "T", "t", "I")


def stat_fields(stat: bytes) -> tuple[bytes, list[bytes]]:
    """(comm, the fields after it) of a /proc stat line "pid (comm) state ppid …": comm may
    hold spaces and parentheses, so split at the last ')'. fields[0] is the state, fields[1]
    the parent, fields[17] the number of threads, fields[19] the start time."""
    head, _, tail = stat.rpartition(b")")
    return head.partition(b"(")[2], tail.split()


def fd_flags(fdinfo: str) -> int:
    """The open flags of a descriptor from its /proc fdinfo text ("flags:\t0102001", octal)."""
    line = next(line for line in fdinfo.splitlines() if line.startswith("flags:"))
    return int(line.split()[1], 8)




class OwnProc:
    """The /proc of one boot's pid namespace."""

    def __init__(self, pid1_host: int) -> None:
        self._pid1_host = pid1_host
        self._fd: int | None = None

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def _own_proc(self) -> int | None:
        """The boot's own /proc (its pid namespace's procfs, through pid 1's root), opened the
        first time it is needed (the sandbox is up by then); None where the host hides it."""
        if self._fd is None:
            try:
                self._fd = os.open(f"/proc/{self._pid1_host}/root/proc", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                self._fd = -1
        return self._fd if self._fd >= 0 else None

    def run_count(self, ns_pid: int) -> int | None:
        """How many times the process has been on a CPU (/proc/PID/schedstat), or None if gone.
        (A process that dies runs to do it: its count moves then too.)"""
        proc = self._own_proc()
        schedstat = read_small(f"{ns_pid}/schedstat", proc) if proc is not None else None
        return int(schedstat.split()[2]) if schedstat else None

    def reads_from_the_controller(self, ns_pid: int) -> bool:
        """True while the process runs, or sleeps in read(2) on one of macsim's own descriptors
        (its step channel, a shim's socket: native/macsim.c puts them from OWN_FD_FLOOR up).
        False when it sleeps anywhere else: a message from the controller will not wake it
        (a shell that met a signal runs its trap, not its next command)."""
        proc = self._own_proc()
        syscall = read_small(f"{ns_pid}/syscall", proc) if proc is not None else None
        words = syscall.split() if syscall else []
        if words[:1] == [b"running"]:
            return True
        return (len(words) > 1 and words[0].isdigit() and int(words[0]) == _READ_SYSCALL
                and int(words[1], 16) >= OWN_FD_FLOOR)

    def woken_by(self, ns_pid: int | None, sig: int, group: bool) -> list[int]:
        """The processes a signal to `ns_pid` (its process group with `group`; every process
        but init when None) would wake: those that neither block nor ignore it."""
        proc = self._own_proc()
        names = os.listdir(proc) if proc is not None else []
        found = []
        for name in sorted(names, key=lambda n: int(n) if n.isdigit() else 0):
            if not name.isdigit() or int(name) in (1, INIT_NS_PID):
                continue
            pid = int(name)
            if ns_pid is not None:
                stat = read_small(f"{name}/stat", proc)
                group_of = int(stat_fields(stat)[1][2]) if stat else None
                if pid != ns_pid and not (group and group_of == ns_pid):
                    continue
            status = read_small(f"{name}/status", proc)
            if status and b"\nState:\tZ" not in status and _wakes(status, sig):  # a zombie runs no more
                found.append(pid)
        return found

    def census(self, waiting: set[int]) -> str:
        """QUIET when nothing of the boot can run, for sure: every process (its pid namespace's
        pids) is in `waiting` (the controller knows it waits for an answer), init sleeping, or a
        sleeping single-threaded ancestor of a waiting process. BUSY when one runs (or is a
        zombie init has to report). UNSURE otherwise (all sleep, but not all for the
        controller): the caller then takes a glimpse (`quiescent`). A process just woken on
        another core still reads as sleeping for a moment: the caller knows whom it woke
        (scheduler.py, `run_count`)."""
        proc = self._own_proc()
        try:
            names = os.listdir(proc) if proc is not None else []
        except OSError:
            names = []
        if not names:
            return UNSURE
        parents: dict[int, int] = {}
        sleeping: dict[int, bool] = {}  # in a sleep nothing of its own ends, single-threaded
        for name in names:
            if name[0] not in "123456789" or name == "1":
                continue  # procfs's own entries ("self", "cpuinfo", …) come first: pids are digits
            stat = read_small(f"{name}/stat", proc)
            if not stat:
                continue  # gone since the listing
            _, fields = stat_fields(stat)
            pid, state, parent = int(name), fields[0].decode(), int(fields[1])
            # A waiting process may not have reached its read yet: it will, with nothing between.
            if pid not in waiting and state not in SLEEPING and not (state == "Z" and parent != INIT_NS_PID):
                return BUSY
            parents[pid] = parent
            sleeping[pid] = state in SLEEPING and fields[17] == b"1"
        blocked = {pid for pid in waiting if pid in parents}
        if sleeping.get(INIT_NS_PID):
            blocked.add(INIT_NS_PID)
        while len(blocked) < len(parents):
            grown = self._blocked_by(proc, blocked, parents, sleeping)
            if not grown:
                return UNSURE
            blocked |= grown
        return QUIET

    def _blocked_by(self, proc: int, blocked: set[int], parents: dict[int, int],
                    sleeping: dict[int, bool]) -> set[int]:
        """Sleeping processes that stay asleep as long as the `blocked` ones do: their ancestors
        (a shell waits for its children), and readers of an empty pipe that only blocked
        processes write to (`… | tee LOG` while the left side waits for the controller)."""
        grown = set()
        for pid in blocked:
            parent = parents.get(pid)
            while parent in parents and parent not in blocked and parent not in grown and sleeping[parent]:
                grown.add(parent)
                parent = parents[parent]
        for pid in parents:
            if pid not in blocked and pid not in grown and sleeping[pid] and \
                    _reads_an_idle_pipe(proc, pid, [p for p in parents if p != pid], blocked):
                grown.add(pid)
        return grown


#: read(2) by machine, as /proc/PID/syscall names it (the pipe-reader rule of Boot.census).
_READ_SYSCALL = 63 if os.uname().machine in ("aarch64", "arm64") else 0


def _reads_an_idle_pipe(proc: int, pid: int, others: list[int], blocked: set[int]) -> bool:
    """True when `pid` sleeps in read(2) on a pipe with nothing in it, which some processes can
    write to and all of those are `blocked`: nothing will wake it before they wake. With no
    writer left it would wake to the end of its input; with data in the pipe, it is about to."""
    syscall = read_small(f"{pid}/syscall", proc)
    words = syscall.split() if syscall else []
    if len(words) < 2 or not words[0].isdigit() or int(words[0]) != _READ_SYSCALL:
        return False
    fd = int(words[1], 16)
    try:
        pipe = os.readlink(f"{pid}/fd/{fd}", dir_fd=proc)
        if not pipe.startswith("pipe:"):
            return False
        writers = [other for other in others if _writes_to(proc, other, pipe)]
        if not writers or not all(writer in blocked for writer in writers):
            return False
        reader = os.open(f"{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK, dir_fd=proc)
        try:
            waiting = bytearray(4)
            fcntl.ioctl(reader, termios.FIONREAD, waiting)
        finally:
            os.close(reader)
        return int.from_bytes(waiting, "little") == 0
    except OSError:
        return False


def _writes_to(proc: int, pid: int, pipe: str) -> bool:
    try:
        descriptors = os.listdir(_at(proc, f"{pid}/fd"))
    except OSError:
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"{pid}/fd/{fd}", dir_fd=proc) == pipe:
                info = read_small(f"{pid}/fdinfo/{fd}", proc)
                if info and fd_flags(info.decode()) & os.O_ACCMODE != os.O_RDONLY:
                    return True
        except OSError:
            continue
    return False


def _at(directory_fd: int, relative: str) -> str:
    """A path through an open directory, for calls that take no dir_fd (os.listdir)."""
    return f"/proc/self/fd/{directory_fd}/{relative}"


def read_small(path: str, directory_fd: int | None = None) -> bytes | None:
    """The first 4 KiB of a /proc file (`path` relative to `directory_fd` when given), or None
    when the process is gone."""
    try:
        fd = os.open(path, os.O_RDONLY, dir_fd=directory_fd)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


#: Signals whose default action is to do nothing: they wake nobody who has no handler for them.
_IGNORED_BY_DEFAULT = (signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH)


def _wakes(status: bytes, sig: int) -> bool:
    """Whether `sig` would wake the process of this /proc status (it neither blocks nor ignores it)."""
    masks = {}
    for line in status.split(b"\n"):
        if line.startswith((b"SigBlk:", b"SigIgn:", b"SigCgt:")):
            masks[line[:6]] = int(line.split()[1], 16)
    bit = 1 << (sig - 1)
    if sig == signal.SIGKILL:
        return True
    if masks.get(b"SigBlk", 0) & bit:
        return False
    if masks.get(b"SigCgt", 0) & bit:
        return True
    return not masks.get(b"SigIgn", 0) & bit and sig not in _IGNORED_BY_DEFAULT
