"""The controller's answers to the Mac's processes: shim calls, and shells saying hello.

A shim call becomes a `Call` for its command's handler (commands.py and the world's models),
whose result goes back to the waiting client now (`Answer`, `Exec`) or later (`DEFERRED`: the
handler calls `call.reply`). Every call is in the trace, answered or not simulated. A shell
that starts says hello first: who it is (its user and job) is looked up at once, while it
surely lives, and the start is recorded when the controller next grants a step (channel.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .channel import Conn, Frame, Request, describe
from .confine import NO_ROOM
from .identity import Identity
from .init import Init
from .scheduler import Scheduler
from .shims.calls import DEFERRED, Answer, Call, Commands, Exec, Mac


class Answering:
    def __init__(self, machine: Mac, *, commands: Commands, identity: Identity, init: Init,
                 scheduler: Callable[[], Scheduler]) -> None:
        self._machine, self._commands, self._identity, self._init = machine, commands, identity, init
        self._scheduler = scheduler  # made after the switchboard, which hands us hellos

    def identify(self, conn: Conn) -> None:
        """A shell said hello: its user and job, once init has reported every spawn asked of it
        (a job's shell can say hello before init's report of its spawn arrives)."""
        self._init.settle()
        self._identity.of(conn)

    def hello(self, conn: Conn, frame: Frame) -> None:
        """Records a bash that started on the Mac (the launcher's first frame)."""
        self._machine.event("process-start", pid=conn.ns_pid, job=self._identity.of(conn)[1], argv=frame.argv,
                            cwd=frame.cwd)

    def _handle(self, handler, call: Call):
        """The handler's result; a write it made that found the disk full fails the command as
        the real one fails (`install: PATH: No space left on device`), not the controller."""
        try:
            return handler(call)
        except OSError as error:
            if error.errno not in NO_ROOM:
                raise
            where = error.filename
            try:
                where = self._machine.disk.mac_path(Path(where)) if where else "write error"
            except ValueError:
                pass
            return Answer(1, "", f"{call.name}: {where}: {os.strerror(error.errno)}\n")

    def call(self, request: Request) -> None:
        """Answers one shim call (the step being granted)."""
        machine, frame, conn, scheduler = self._machine, request.frame, request.conn, self._scheduler()
        name = frame.name
        call = Call(name=name, argv=frame.argv, cwd=frame.cwd, env=frame.env, pid=request.ns_pid,
                    host_pid=conn.host_pid, user=request.user, job=request.job, machine=machine)

        def reply(result) -> None:
            scheduler.deferred.discard(conn)
            machine.event("call-answered", pid=call.pid, job=call.job, name=name, **describe(result))
            scheduler.release(call.pid)
            conn.answer(result)

        call.reply = reply
        handler = self._commands.get(name)
        if handler is None:
            result = Answer(127, "", f"not simulated: {name}\n")
            machine.event("not-simulated", pid=call.pid, job=call.job, name=name, argv=frame.argv, cwd=frame.cwd)
        else:
            result = self._handle(handler, call)
        machine.event("call", pid=call.pid, job=call.job, name=name, argv=frame.argv, cwd=frame.cwd,
                      user=call.user, step=scheduler.steps, **describe(result))
        if isinstance(result, Exec):
            # What the exec'd command writes belongs to the user it now runs as (sudo -u).
            conn.identity = None
            request.user, request.job = self._identity.of(conn)
        if result is DEFERRED:
            scheduler.deferred.add(conn)
            scheduler.quiet_hint = True
        else:
            self._init.settle()
            scheduler.release(call.pid)
            conn.answer(result)
