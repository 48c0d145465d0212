"""Which lines of the script under test a run executed, counted from the trace's steps.

A step says which file and line a bash was at. The script under test runs under several paths
on one host (the MDM script-job's temporary copy, the copy the bootstrap installs for its
LaunchDaemon, the run-puppet.sh the role installs, an ssh session's upload), and the trace
does not hold file contents, so a path is recognised by its steps instead of its name: a
file's steps count as the script's when every one of them lands on a line of the script that
holds code (not blank, not only a comment). Another script's steps (worker-runner.sh, a
library a script sources) land on the script's comments or past its end and are left out,
each with the reason shown on the page. Line 1 is always accepted: bash numbers the commands
a trap runs from 1, so a trap firing reports line 1 whatever the file.

The rule can be fooled by a short other script whose few lines all happen to fall on code
lines of the script; the page lists every path it counted, so a reader can see it.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from ...trace import Event

#: The harness's own files inside the Mac (the step hook, the shim client): never the script.
HARNESS_PREFIX = "/.macsim/"


def is_code(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def steps_by_file(events: Iterable[Event]) -> dict[str, Counter]:
    """file -> Counter(line number -> steps there), for every step with a numeric line."""
    found: dict[str, Counter] = {}
    for event in events:
        if event.kind != "step":
            continue
        line = str(event.data.get("line", ""))
        if line.isdigit():
            found.setdefault(str(event.data.get("file", "")), Counter())[int(line)] += 1
    return found


def _why_not(path: str, lines: Counter, source: list[str]) -> str | None:
    """Why this file's steps are not the script's, or None when they are."""
    if path.startswith(HARNESS_PREFIX):
        return "a file of macsim itself"
    for number in sorted(lines):
        if number > len(source):
            return f"a step at line {number}, past the script's last line ({len(source)})"
        if number != 1 and not is_code(source[number - 1]):
            return f"a step at line {number}, which is blank or a comment in the script"
    return None


def coverage(events: Iterable[Event], script_text: str) -> dict:
    """The source with the steps per line, and which files were counted as the script (and why not)."""
    source = script_text.splitlines()
    hits = [0] * len(source)
    files = []
    for path, lines in sorted(steps_by_file(events).items()):
        why_not = _why_not(path, lines, source) if source else "the script's source is not known"
        files.append({"path": path, "steps": sum(lines.values()),
                      "counted": why_not is None, "why_not": why_not})
        if why_not is None:
            for number, count in lines.items():
                hits[number - 1] += count
    code = [number for number, text in enumerate(source, 1) if is_code(text)]
    return {"lines": source, "hits": hits, "files": files,
            "code_lines": len(code), "code_lines_run": sum(1 for number in code if hits[number - 1]),
            "trap_on_line_1": bool(source) and hits[0] > 0 and not is_code(source[0])}


def counted_files(report: dict) -> set[str]:
    return {entry["path"] for entry in report["files"] if entry["counted"]}
