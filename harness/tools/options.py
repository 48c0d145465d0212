"""Checks of what a user gives the command line: each failure is one message and exit code 2."""
from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from ..scenarios import DEFAULT_SCRIPT


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
