"""The worker a handed-over M4 host runs: started by worker-runner.sh, then waiting for tasks.

Fakes: `/usr/local/bin/start-worker` (installed by the M4 role). Its start is an event in the
trace (`worker-started`, with the user it runs as); it then waits for tasks that never come in
a simulation, so a Mac whose only activity is an idle worker ends its run `idle`. How it can
fail: it does not; a host that never starts its worker is the failure this model shows.
"""
from __future__ import annotations

from ..mac.shims.calls import DEFERRED, Call, Commands, Mac

COMMANDS = Commands()


@COMMANDS.handles("start-worker")
def start_worker(call: Call):
    call.machine.event("worker-started", pid=call.pid, job=call.job, user=call.user, argv=call.argv)
    call.machine.wait_for_outside_work()
    return DEFERRED


def install(mac: Mac) -> None:
    """The worker's command on this Mac (the role's manifests put the program on disk)."""
    mac.add_commands(COMMANDS)
