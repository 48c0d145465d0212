"""macsim: run a real macOS bootstrap script, unmodified, against a simulated Mac on Linux.

The tree is the architecture: `mac/` is the simulated Mac (its disk, boots, controller,
launchd and commands); `world/` what surrounds it (puppet and facter with cltbld's TCC
database, GitHub, MDM's mail relay, the worker); `scenarios/` what a scenario file describes
and what must hold on every run; `tools/` the commands that drive them (`macsim run`, gate,
explore, diff, reports, the pytest plugin); `fleet.py` the fleet's labels and paths.

The public API: build a `Machine` (its disk lives in a directory on the host), prepare the
host through `machine.disk`, start a script, run, and read the trace.

    from harness import Machine
    machine = Machine(Path("/tmp/mac1"), seed=7)
    machine.start_script(Path("bootstrap.sh").read_bytes())
    result = machine.run()
    print(result.verdict, result.boots)
"""
from .mac.config import HARNESS_VERSION, Limits, MachineConfig, Verdict
from .mac.disk import Disk
from .mac.machine import Machine, RunResult
from .trace import Event, Trace

__all__ = ["Disk", "Event", "HARNESS_VERSION", "Limits", "Machine", "MachineConfig", "RunResult",
           "Trace", "Verdict"]
