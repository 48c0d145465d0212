"""Bounds on the processes and memory of one Mac: what a fork bomb or a runaway allocation
inside it may take of the host.

Every sandbox of a Mac (one per boot) starts inside the Mac's own cgroup, made when its run
starts and removed when it ends, a child of the controller's cgroup in each hierarchy: the
`pids` controller refuses a fork past `Limits.processes` (threads count too), the `memory`
controller OOM-kills past `Limits.memory_mb` plus the disk's capacity (the disk is a tmpfs:
what the Mac's processes write to it is memory charged to them, confine.py). The controller
reads the cgroup's counters while the run goes on (`breach`, at most every 20 ms) and ends the
run at the first refused fork (`limit-processes`) or the first OOM kill (`limit-memory`).

Where the host lets us make no cgroup (cgroup v1 needs write access to the controller's
cgroup; v2 a parent with `pids` and `memory` delegated), rlimits stand in, set on bubblewrap
and inherited by every process of the Mac: RLIMIT_NPROC (which does not bind root, whose
processes are then unbounded) and RLIMIT_AS per process. A refused fork or allocation then
fails inside the Mac, but nothing tells the controller, so the run does not end with a verdict
of its own. Which of these applies is said once per process.
"""
from __future__ import annotations

import errno
import itertools
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Limits, Verdict
from .confine import say_once

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "macsim-"
CHECK_EVERY_S = 0.02
_NAMES = itertools.count(1)
MIB = 1 << 20


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup per v1 controller (and "" for v2), from /proc/self/cgroup."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, type, options) of every cgroup file system."""
    found = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            found.append((fields[1], fields[2], set(fields[3].split(","))))
    return found


@dataclass
class Group:
    """One cgroup of ours: where, and which of its files count what."""

    path: Path
    version: int

    def write(self, name: str, value: str) -> None:
        fd = os.open(self.path / name, os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def counter(self, name: str, key: str) -> int:
        """A `key N` line of one of its files (pids.events, memory.events, memory.oom_control)."""
        try:
            for line in (self.path / name).read_text().splitlines():
                word, _, value = line.partition(" ")
                if word == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self) -> None:
        """rmdir, once the processes in it are gone (SIGKILL to any left: all are the Mac's)."""
        for attempt in range(200):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as error:
                if error.errno != errno.EBUSY:
                    return
            if attempt == 20:
                for pid in self._pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            time.sleep(0.005)

    def _pids(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []


def _make(parent: Path, version: int, name: str) -> Group | None:
    try:
        path = parent / name
        path.mkdir()
    except OSError:
        return None
    return Group(path, version)


def _v2_parent(mount: str, own: str) -> Path | None:
    """Where a v2 cgroup of ours may go: beside the controller's (a cgroup with processes cannot
    have controllers for children), or under the root when the controller is in it."""
    here = Path(mount + own)
    candidate = here if own in ("/", "") else here.parent  # the root may have processes and children
    try:
        delegated = set((candidate / "cgroup.subtree_control").read_text().split())
    except OSError:
        return None
    return candidate if {"pids", "memory"} <= delegated and os.access(candidate, os.W_OK) else None


def make_groups(name: str) -> dict[str, Group]:
    """The Mac's cgroups, by controller ("pids", "memory"): v1 hierarchies first, else v2."""
    own, groups = _own_cgroups(), {}
    for point, kind, options in _mounts():
        for controller in ("pids", "memory"):
            if kind == "cgroup" and controller in options and controller not in groups:
                group = _make(Path(point + own.get(controller, "/")), 1, name)
                if group is not None:
                    groups[controller] = group
    if groups:
        return groups
    for point, kind, _ in _mounts():
        parent = _v2_parent(point, own.get("", "/")) if kind == "cgroup2" else None
        group = _make(parent, 2, name) if parent else None
        if group is not None:
            return {"pids": group, "memory": group}
    return {}


@dataclass
class Bounds:
    """The bounds of one run of one Mac: its cgroups (or the rlimits standing in) and what they
    have refused so far."""

    processes: int
    memory_bytes: int  # the processes' own memory plus the disk's capacity
    memory_mb: int
    groups: dict[str, Group] = field(default_factory=dict)
    _checked: float = 0.0

    @classmethod
    def create(cls, limits: Limits, disk_capacity_bytes: int) -> Bounds:
        """Makes the Mac's cgroups and sets their limits; says once what stands in where it cannot."""
        bounds = cls(limits.processes, limits.memory_mb * MIB + disk_capacity_bytes, limits.memory_mb)
        bounds.groups = make_groups(f"{PREFIX}{os.getpid()}-{next(_NAMES)}")
        try:
            bounds._set_limits()
        except OSError as error:
            bounds.close()
            bounds.groups = {}
            say_once("cgroup-limits", f"could not set the limits of the Mac's cgroup ({error}): rlimits stand in")
        if "pids" not in bounds.groups and os.getuid() == 0:
            say_once("unbounded-processes", "the Mac's processes are not bounded in number: this host lets macsim "
                                            "make no cgroup, and RLIMIT_NPROC does not bind root (README: safety)")
        elif not bounds.groups:
            say_once("rlimits", "this host lets macsim make no cgroup: rlimits bound the Mac's processes and each "
                                "one's memory, and reaching them does not end the run (README: safety)")
        return bounds

    def _set_limits(self) -> None:
        pids, memory = self.groups.get("pids"), self.groups.get("memory")
        if pids is not None:
            pids.write("pids.max", str(self.processes))
        if memory is not None:
            memory.write("memory.limit_in_bytes" if memory.version == 1 else "memory.max", str(self.memory_bytes))

    def preexec(self) -> None:
        """In bubblewrap's process, before it execs: into the Mac's cgroups, under its rlimits."""
        for group in {id(g): g for g in self.groups.values()}.values():
            group.write("cgroup.procs", "0")
        if "pids" not in self.groups:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.processes, self.processes))
        if "memory" not in self.groups:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_mb * MIB, self.memory_mb * MIB))

    def breach(self, now: bool = False) -> tuple[Verdict, str] | None:
        """The limit the Mac's processes ran into since the run started, if any: read at most
        every CHECK_EVERY_S while the run goes on, or `now`, before a run ends for another reason."""
        moment = time.monotonic()
        if not self.groups or (not now and moment - self._checked < CHECK_EVERY_S):
            return None
        self._checked = moment
        pids, memory = self.groups.get("pids"), self.groups.get("memory")
        if pids is not None and (refused := pids.counter("pids.events", "max")):
            return Verdict.LIMIT_PROCESSES, (
                f"the Mac's processes reached the limit of {self.processes} (processes and threads; {refused} "
                f"fork(s) refused): raise [limits] processes or --max-processes if the script needs more")
        if memory is not None:
            killed = memory.counter("memory.oom_control" if memory.version == 1 else "memory.events", "oom_kill")
            if killed:
                return Verdict.LIMIT_MEMORY, (
                    f"{killed} process(es) of the Mac killed for want of memory: its processes may use "
                    f"{self.memory_mb} MiB besides what they wrote to its disk: raise [limits] memory_mb or "
                    f"--max-memory-mb if the script needs more")
        return None

    def close(self) -> None:
        """Removes the Mac's cgroups (after its last sandbox is gone)."""
        for group in {id(g): g for g in self.groups.values()}.values():
            group.remove()
        self.groups = {}


def remove_stale() -> list[Path]:
    """Removes the cgroups of macsim processes that are gone (killed before they could): what
    `macsim clean` does. Returns what it removed."""
    own, removed = _own_cgroups(), []
    parents = set()
    for point, kind, options in _mounts():
        if kind == "cgroup":
            parents |= {Path(point + own.get(c, "/")) for c in ("pids", "memory") if c in options}
        else:
            parents |= {Path(point + own.get("", "/")), Path(point + own.get("", "/")).parent}
    for parent in sorted(parents):
        try:
            names = sorted(entry.name for entry in os.scandir(parent) if entry.name.startswith(PREFIX))
        except OSError:
            continue
        for name in names:
            creator = name[len(PREFIX):].split("-")[0]
            if creator.isdigit() and not Path(f"/proc/{creator}").exists():
                Group(parent / name, 0).remove()
                if not (parent / name).exists():
                    removed.append(parent / name)
    return removed
