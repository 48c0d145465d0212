"""Who is who on the Mac: each process's macOS user and the launchd job (or session) it is part of.

Inside the sandbox every process is uid 0, so the macOS user is kept here: launchd's UserName
and `sudo -u` set it for a process, its descendants inherit it (looked up through the process
tree, nearest first). The job is the spawn a process descends from, or the job it entered by
exec (`ssh root@localhost` puts its command in an ssh session). A process keeps both for its
life, except through sudo's exec, which sets them again.
"""
from __future__ import annotations

from .channel import Conn
from .init import Init
from .processes import ProcInfo, read_proc


class Identity:
    def __init__(self, init: Init) -> None:
        self._init = init
        self._contexts: dict[tuple[int, int], str] = {}  # (host pid, start) -> job entered by exec

    def forget_boot(self) -> None:
        self._contexts = {}

    def of(self, conn: Conn) -> tuple[str, str | None]:
        """(user, job) of a connection's process, looked up once."""
        if conn.identity is None:
            users, spawns = self._init.users, self._init.by_ns_pid
            lineage = self._lineage(conn.host_pid)
            user = next((users[i.ns_pid] for i in lineage if i.ns_pid in users), "root")
            job = next((self._contexts.get((i.host_pid, i.started)) or spawns[i.ns_pid].label
                        for i in lineage if (i.host_pid, i.started) in self._contexts
                        or i.ns_pid in spawns), None)
            conn.identity = (user, job)
        return conn.identity

    def _lineage(self, host_pid: int) -> list[ProcInfo]:
        boot = self._init.boot
        if boot is None:
            return []
        table = boot.processes()
        chain = [host_pid, *boot.ancestors(host_pid, table)]
        return [table[pid] for pid in chain if pid in table]

    def set_user(self, ns_pid: int, user: str) -> None:
        self._init.users[ns_pid] = user

    def enter_context(self, host_pid: int, job: str) -> None:
        """From its next exec on, the process and its descendants count as part of `job`. Kept
        by host pid and start time: pids come round again in a long boot, that pair does not."""
        info = read_proc(host_pid)
        if info is not None:
            self._contexts[(host_pid, info.started)] = job
