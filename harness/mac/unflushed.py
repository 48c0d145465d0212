"""Writes that may not be on disk yet when the power goes: what a torn write can hit.

macos-behaviour.md §9b: shell tools do not fsync, so a file written in the last few seconds
before a power cut can come back empty, shorter than written, or with its old contents. A
completed rename keeps the name atomic, and the model keeps the renamed file whole (the
reference's modelling default); a graceful shutdown flushes everything. Files boot empties
anyway (/tmp, /var/run) are left out, and so are directories (their metadata is journaled).

The same bookkeeping runs in two places, so they always agree: the machine, which tears the
files it is asked to at a power loss, and crash-point exploration, which reads the reference
run's trace to learn which files a power cut at each step could tear.
"""
from __future__ import annotations

import os
from pathlib import Path

#: How a torn file comes back: with no bytes, or with the first half of what was written.
TEAR_MODES = ("empty", "short")
BOOT_EMPTIES = ("/private/tmp/", "/private/var/run/")
_WRITES = ("created", "written")


class Unflushed:
    """The files written and not flushed since, with the simulated time of their last write."""

    def __init__(self) -> None:
        self.written_at: dict[str, float] = {}

    def note(self, change: str, path: str, t_s: float, moved_from: str | None = None,
             directory: bool = False) -> None:
        """One file event of the trace ("created", "written", "renamed", "removed", ...)."""
        if moved_from is not None:
            self.written_at.pop(moved_from, None)
        if change == "attributes" or path.startswith(BOOT_EMPTIES) or directory:
            return
        if change in _WRITES:
            self.written_at[path] = t_s
        else:  # renamed or moved here (whole), removed or moved away (gone)
            self.written_at.pop(path, None)

    def note_event(self, data: dict, t_s: float) -> None:
        self.note(data["change"], data["path"], t_s, data.get("from"), data.get("directory", False))

    def flush(self) -> None:
        self.written_at.clear()

    def recent(self, now_s: float, window_s: float) -> list[str]:
        """The files a power cut at `now_s` could tear, in the order they were written."""
        return sorted((p for p, t in self.written_at.items() if now_s - t <= window_s),
                      key=lambda p: (self.written_at[p], p))


def check_mode(mode: str) -> str:
    if mode not in TEAR_MODES:
        raise ValueError(f"a torn file comes back {' or '.join(TEAR_MODES)}, not {mode!r}")
    return mode


def tear(host_path: Path, mode: str) -> int | None:
    """Tears one file on the host disk; returns its new size, or None if it is not a file."""
    check_mode(mode)
    if host_path.is_symlink() or not host_path.is_file():
        return None
    size = host_path.stat().st_size
    keep = 0 if mode == "empty" else size // 2
    os.truncate(host_path, keep)
    return keep
