"""`macsim show TRACE`: a saved trace read again, as the terminal timeline or as an HTML page.

A trace attached to a ticket or kept by CI can be read without running anything: the
timeline `macsim run --timeline` prints, or (`--report DIR`) the page `--report` writes for a
run. The invariants are checked again from the trace (they read nothing else); a scenario's
own expectations, and the invariants a scenario switches off, are not in a trace, so a page
of a saved trace judges by the invariants alone. Nor is the script's source: `--script PATH`
adds it, for the coverage.

Exit codes: 0 shown and no invariant violated, 1 shown and one was, 2 bad input (no such
file, not a trace: which line is not JSON, or not an event).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ..scenarios import invariants
from ..scenarios.causes import first_cause
from ..trace import Event
from .html import write_run_page, write_suite_index
from .report import timeline

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE = 0, 1, 2
EVENT_KEYS = ("boot", "data", "job", "kind", "pid", "seq", "t_s")


class NotATrace(ValueError):
    """The file given is not a trace macsim wrote: the message says where and why."""


def load_trace(path: Path) -> list[Event]:
    """The events of a trace file, or NotATrace naming the file and line that is wrong."""
    if path.is_dir():
        found = sorted(path.glob("*.jsonl"))
        hint = f"; it holds {', '.join(p.name for p in found[:3])}{' …' if len(found) > 3 else ''}" if found else ""
        raise NotATrace(f"{path}: is a folder; give one trace file (*.trace.jsonl){hint}")
    if not path.is_file():
        raise NotATrace(f"{path}: no such file; give a trace written by `macsim run --trace` (JSON lines)")
    events = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except UnicodeDecodeError:
                raise NotATrace(f"{path}:{number}: not UTF-8 text; a trace is JSON lines") from None
            except json.JSONDecodeError as error:
                raise NotATrace(f"{path}:{number}: not JSON ({error.msg} at column {error.colno}); a trace has "
                                f"one JSON event per line, as `macsim run --trace` writes it") from None
            if not isinstance(record, dict) or set(record) != set(EVENT_KEYS) or not isinstance(record["data"], dict):
                found = sorted(record) if isinstance(record, dict) else type(record).__name__
                raise NotATrace(f"{path}:{number}: not a trace event; expected the keys {', '.join(EVENT_KEYS)} "
                                f"(data an object), found {found}")
            events.append(Event(**record))
    if not events:
        raise NotATrace(f"{path}: holds no events; a trace has one JSON event per line")
    return events


def run_name(path: Path) -> str:
    """test-plan-1.trace.jsonl -> test-plan-1"""
    name = path.name
    for suffix in (".jsonl", ".trace"):
        name = name.removesuffix(suffix)
    return name or "trace"


def _ending(events: list[Event]) -> str:
    for event in reversed(events):
        if event.kind in ("end", "limit", "quiet"):
            return f"{event.data.get('verdict')} — {event.data.get('detail')}"
    return "the trace stops before the run ended (cut short, or still being written)"


def _summary(events: list[Event]) -> str:
    boots = sum(1 for event in events if event.kind == "boot")
    return f"{len(events)} events, {boots} boot(s), {events[-1].t_s:g} s simulated; ended {_ending(events)}"


def write_page(events: list[Event], trace_path: Path, report: Path, script: Path | None) -> Path:
    """The page of a saved trace, and an index.html beside it that links to it."""
    violations = invariants.check(events)
    cause = first_cause(events, violations)
    name = run_name(trace_path)
    verdict = "fail" if violations else "pass"
    summary = (f"from the saved trace {trace_path}: {_summary(events)}. Judged by the invariants alone "
               "(a scenario's expectations are not in a trace).")
    page = write_run_page(report, name=name, events=events, verdict=verdict,
                          violations=[violation.to_json() for violation in violations],
                          first_cause=cause.to_json() if cause else None,
                          script_name=script.name if script else "", replay="",
                          script_text=script.read_text(encoding="utf-8", errors="replace") if script else "",
                          summary=summary)
    write_suite_index(report, [{"name": name, "verdict": verdict, "summary": summary, "page": page.name,
                                "first_cause": cause.to_json() if cause else None,
                                "violations": [violation.to_json() for violation in violations]}],
                      title="saved trace(s)")
    return page


def show(trace_path: Path, report: Path | None, out: TextIO = sys.stdout, *, script: Path | None = None) -> int:
    """Prints the trace's timeline, or writes its page into `report` (absent or empty)."""
    try:
        events = load_trace(trace_path)
        if script is not None and not script.is_file():
            raise NotATrace(f"--script {script}: no such file; give the script the trace ran, for its coverage")
        if report is not None and report.exists() and (not report.is_dir() or any(report.iterdir())):
            raise NotATrace(f"--report {report}: exists and is not an empty directory; macsim never overwrites "
                            "what is there. Give a new path or empty it first.")
    except NotATrace as error:
        print(f"macsim show: {error}", file=sys.stderr)
        return EXIT_USAGE
    violations = invariants.check(events)
    if report is not None:
        page = write_page(events, trace_path, report, script)
        print(f"page: {page}\nindex: {report / 'index.html'}", file=out)
        return EXIT_VIOLATED if violations else EXIT_OK
    print(f"trace: {trace_path} ({_summary(events)})", file=out)
    print(timeline(events), file=out)
    if violations:
        print("invariants violated (checked again from the trace):", file=out)
        for violation in violations:
            print(f"  {violation.invariant}: {violation.message}", file=out)
        print(f"first cause: {first_cause(events, violations).render()}", file=out)
    else:
        print("invariants (checked again from the trace): none violated", file=out)
    return EXIT_VIOLATED if violations else EXIT_OK


def add_command(subparsers) -> None:
    """Adds `show` to an argparse subparsers object; run it with `main(args)`."""
    parser = subparsers.add_parser(
        "show", help="read a saved trace: its timeline, or its HTML page",
        description="Print the per-boot timeline of a trace saved by `macsim run --trace`, or with "
                    "--report DIR write its HTML page (and an index.html) into DIR. The invariants are "
                    "checked again from the trace. Exit 0 when none is violated, 1 when one is, 2 for bad "
                    "input.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace", type=Path, metavar="TRACE", help="a trace file (JSON lines), e.g. NAME.trace.jsonl")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write the page into DIR (absent or empty) instead of printing the timeline")
    parser.add_argument("--script", type=Path, metavar="PATH",
                        help="the script the trace ran: its source and the lines the run executed go on the page")


def main(args: argparse.Namespace) -> int:
    return show(args.trace, args.report, script=args.script)

