"""The worker a handed-over M4 host runs: started by worker-runner.sh, then waiting for tasks.

Fakes: `/usr/local/bin/start-worker` (installed by the M4 role). Its start is an event in the
trace (`worker-started`, with the user it runs as); it then waits for tasks that never come in
a simulation, so a Mac whose only activity is an idle worker ends its run `idle`. How it can
fail: it does not; a host that never starts its worker is the failure this model shows.
"""
from __future__ import annotations

from ..shims import DEFERRED, Call, handles


@handles("start-worker")
def start_worker(call: Call):
    call.machine.event("worker-started", pid=call.pid, job=call.job, user=call.user, argv=call.argv)
    call.machine.wait_for_outside_work(call)
    return DEFERRED
