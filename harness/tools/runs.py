"""Where runs live: one folder per command run under the runs directory, named and printed, the
oldest pruned; and `macsim clean`, which removes them and whatever a killed macsim left behind.

A run's folder (`RUNS/20250131-142501-run-4711`: when, which command, which process) holds its
traces, and the Mac's folder of the scenario being run, removed as soon as it is judged (the
disk, a tmpfs, goes with it: mac/confine.py). Before a new run starts, the runs directory keeps
the newest `keep` runs and removes older ones (never a run whose process still lives). The
default directory is `$XDG_CACHE_HOME/macsim/runs` (`~/.cache/macsim/runs`).

What a macsim killed outright (SIGKILL, a crash) leaves elsewhere carries its process id:
runtime folders `/tmp/macsim-PID-*`, crash-run copies `/dev/shm/macsim-*-PID-*`, cgroups
`macsim-PID-N`. `clean` removes those of processes that are gone; `sweep_own` those of this
process, as a command's last act after an interruption.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..mac.bounds import remove_stale
from ..mac.bridge import cache_dir
from ..mac.confine import remove_tree
from ..mac.snapshot import TMPFS

#: How many runs the runs directory keeps by default (each holds a few MiB of traces).
DEFAULT_KEEP = 20
_RUN_NAME = re.compile(r"^\d{8}-\d{6}-[a-z-]+-(\d+)$")
_LEFTOVER = re.compile(r"^macsim-(?:[a-z]+-)*(\d+)-")


def default_runs_dir() -> Path:
    return cache_dir() / "runs"


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def runs_in(runs_dir: Path) -> list[Path]:
    """The run folders of a runs directory, oldest first."""
    try:
        return sorted(p for p in runs_dir.iterdir() if p.is_dir() and _RUN_NAME.match(p.name))
    except OSError:
        return []


def prune(runs_dir: Path, keep: int) -> list[Path]:
    """Removes all but the newest `keep` runs (a run whose process lives is never removed)."""
    finished = [run for run in runs_in(runs_dir) if not _alive(int(_RUN_NAME.match(run.name).group(1)))]
    doomed = finished[:max(0, len(finished) - keep)]
    for run in doomed:
        remove_tree(run)
    return doomed


def new_run(runs_dir: Path | None, command: str, keep: int = DEFAULT_KEEP) -> Path:
    """A new, empty run folder for `command`, after pruning the runs directory to `keep - 1`."""
    runs_dir = runs_dir or default_runs_dir()
    runs_dir.mkdir(parents=True, exist_ok=True)
    prune(runs_dir, max(0, keep - 1))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = runs_dir / f"{stamp}-{command}-{os.getpid()}"
    run.mkdir()
    return run


def _leftovers(pid_alive) -> list[Path]:
    """Folders a macsim process left in /tmp and /dev/shm, for which `pid_alive(pid)` is False."""
    found = []
    for place in {Path(tempfile.gettempdir()), TMPFS}:
        try:
            entries = sorted(place.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _LEFTOVER.match(entry.name)
            if match and entry.is_dir() and not pid_alive(int(match.group(1))):
                found.append(entry)
    return found


def sweep_own(forks: tuple[int, ...] = ()) -> None:
    """Removes what this process (and its killed `forks`) made outside its run folder and did not
    get to remove itself (an interruption that landed in the middle of a cleanup)."""
    mine = {os.getpid(), *forks}
    for leftover in _leftovers(lambda pid: pid not in mine):
        remove_tree(leftover)


def clean(runs_dir: Path | None, keep: int = 0) -> list[Path]:
    """What `macsim clean` does: the runs beyond `keep`, and what killed macsim processes left."""
    removed = prune(runs_dir or default_runs_dir(), keep)
    for leftover in _leftovers(_alive):
        shutil.rmtree(leftover, ignore_errors=True)
        removed.append(leftover)
    return removed + remove_stale()


def add_command(subparsers) -> None:
    clean = subparsers.add_parser(
        "clean", help="remove old runs, and what a killed macsim left behind",
        description="Removes the runs in the runs directory but the newest --keep (default: all), and "
                    "what macsim processes that are gone left behind: runtime folders in /tmp, crash-run "
                    "copies in /dev/shm, cgroups. A run whose macsim still runs is never touched.")
    clean.add_argument("--runs-dir", type=Path, default=None, metavar="DIR",
                       help="the runs directory (default: ~/.cache/macsim/runs)")
    clean.add_argument("--keep", type=int, default=0, metavar="N", help="keep the newest N runs (default 0)")


def command(args) -> int:
    removed = clean(args.runs_dir, args.keep)
    for path in removed:
        print(f"removed {path}")
    print(f"macsim clean: {len(removed)} removed")
    return 0
