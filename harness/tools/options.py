"""Checks of what a user gives the command line: each failure is one message and exit code 2."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import BadInput
from ..mac.config import Limits, MachineConfig
from ..scenarios import DEFAULT_SCRIPT
from .runs import DEFAULT_KEEP


class UsageError(BadInput):
    """Bad input from the user: printed as one message, exit code 2."""


def script_path(path: Path | None, option: str = "--script") -> Path:
    script = path or DEFAULT_SCRIPT
    if not script.is_file():
        where = option if path else "the built-in bootstrap"
        raise UsageError(f"{where}: {script}: no such file; expected a bash script, e.g. "
                         f"--script examples/self-removing-daemon.sh")
    return script


def empty_dir(directory: Path, option: str) -> Path:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{option} {directory}: exists and is not an empty directory; macsim never "
                         f"overwrites what is there. Give a new path or empty it first.")
    return directory


def not_existing(path: Path | None, option: str) -> None:
    if path is not None and path.exists():
        raise UsageError(f"{option} {path}: already exists; macsim never overwrites a file. "
                         f"Remove it or choose another name.")


def add_safety_options(parser, *, runs: bool = True) -> None:
    """What a run of a pull request's script may take of the host (`macsim run`, `gate` and
    `explore`), and where runs are kept (`runs`: run and gate)."""
    group = parser.add_argument_group(
        "safety", "bounds on what the script may take of this host (README: safety); with scenarios, "
                  "each scenario's own, lowered to these when given")
    group.add_argument("--disk-free-mb", type=_positive, default=None, metavar="MB",
                       help=f"free space on the Mac's disk; a write past it fails with No space left on device "
                            f"(default {MachineConfig.disk_free_mb})")
    group.add_argument("--max-processes", type=_positive, default=None, metavar="N",
                       help=f"processes and threads of the Mac at once; a refused fork ends the run with "
                            f"limit-processes (default {Limits.processes})")
    group.add_argument("--max-memory-mb", type=_positive, default=None, metavar="MB",
                       help=f"memory of the Mac's processes besides its disk; an OOM kill ends the run with "
                            f"limit-memory (default {Limits.memory_mb})")
    if not runs:
        return
    group.add_argument("--runs-dir", type=Path, default=None, metavar="DIR",
                       help="where each run's folder goes (default: ~/.cache/macsim/runs)")
    group.add_argument("--keep-runs", type=int, default=DEFAULT_KEEP, metavar="N",
                       help=f"runs kept in --runs-dir, older ones removed (default {DEFAULT_KEEP}; "
                            "`macsim clean` removes them all)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def capped(scenarios: list, args) -> list:
    """The scenarios with their disk, processes and memory lowered to the options given."""
    def lower(own: int, cap: int | None) -> int:
        return own if cap is None else min(own, cap)
    return [replace(scenario, host=replace(scenario.host, disk_free_mb=lower(scenario.host.disk_free_mb,
                                                                               args.disk_free_mb)),
                    limits=replace(scenario.limits, processes=lower(scenario.limits.processes, args.max_processes),
                                   memory_mb=lower(scenario.limits.memory_mb, args.max_memory_mb)))
            for scenario in scenarios]
