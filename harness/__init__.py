"""macsim: run a real macOS bootstrap script, unmodified, against a simulated Mac on Linux.

The public API: build a `Machine` (its disk lives in a directory on the host), prepare the
host through `machine.disk`, start a script, run, and read the trace.

    from harness import Machine
    machine = Machine(Path("/tmp/mac1"), seed=7)
    machine.start_script(Path("bootstrap.sh").read_bytes())
    result = machine.run()
    print(result.verdict, result.boots)
"""
from .disk import Disk
from .machine import HARNESS_VERSION, Limits, Machine, MachineConfig, RunResult, Verdict
from .trace import Event, Trace

__all__ = ["Disk", "Event", "HARNESS_VERSION", "Limits", "Machine", "MachineConfig", "RunResult",
           "Trace", "Verdict"]
