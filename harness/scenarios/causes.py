"""The first thing that went wrong in a failing run: what a reader should see before anything else.

A failed scenario can list ten broken expectations and invariants, all consequences of one
command that failed early. The first cause is the earliest event, in trace order, that went
wrong up to the first violation that shows in the trace:

- a command that failed: a shim call that acts on the Mac (install, chown, launchctl load or
  bootstrap, sudo, shutdown, ssh, …) and answered an error (for `launchctl load` and `unload`,
  which exit 0 whatever happens, an error printed). Questions (`launchctl print`, `id`, `date`,
  …) and booting out what is already gone are not failures;
- a command macsim does not simulate;
- a plist launchd refused at boot, or a job it could not spawn;
- a file a power cut tore;
- a script (a session or a launchd job) that exited with a non-zero status;
- failing all these, the first violation itself (an invariant or an expectation).

It is a guide, not a proof: a script may test a command's failure on purpose. The violations
follow it in every report.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..trace import Event
from .invariants import Violation

#: Commands that ask and never act: their failure is an answer, not a fault.
QUESTIONS = {"date", "sleep", "hostname", "sw_vers", "uname", "id", "whoami", "scutil", "dscacheutil",
             "python3", "macsim-mail", "start-worker", "facter",
             # what an enrolment driver polls: a secure token, a certificate in the keychain
             "sysadminctl", "security"}
LAUNCHCTL_QUESTIONS = {"print", "list", "print-disabled", "blame", "error", "help", "version", "managerpid",
                       "dumpstate", "examine"}
#: Booting out or removing what is not loaded: the wanted state already holds.
ALREADY_GONE = {3, 113}


@dataclass(frozen=True)
class Cause:
    kind: str  # command, not-simulated, launchd, torn, exit, invariant, expectation
    text: str
    boot: int | None = None
    t_s: float | None = None
    seq: int | None = None
    job: str | None = None
    line: str | None = None  # FILE:LINE of the script's last step in that job, when known

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "boot": self.boot, "t_s": self.t_s, "seq": self.seq,
                "job": self.job, "line": self.line}

    def render(self) -> str:
        where = ", ".join(part for part in (
            f"boot {self.boot}" if self.boot is not None else "",
            f"{self.t_s:g} s" if self.t_s is not None else "", self.job or "", self.line or "") if part)
        return f"{where}: {self.text}" if where else self.text


def _failed_action(event: Event) -> bool:
    data = event.data
    if data["name"] in QUESTIONS or "status" not in data:  # an exec or a deferred answer
        return False
    args = data["argv"][1:]
    if data["name"] == "launchctl":
        verb = args[0] if args else ""
        if verb in LAUNCHCTL_QUESTIONS:
            return False
        if verb in ("load", "unload"):
            return bool(data.get("stderr", "").strip())
        if verb in ("bootout", "remove") and data["status"] in ALREADY_GONE:
            return False
    return data["status"] != 0


def _command_text(event: Event) -> str:
    data = event.data
    text = "$ " + " ".join(data["argv"]) + f" → {data['status']}"
    errors = data.get("stderr", "").strip().splitlines()
    return f"{text} ({errors[-1]})" if errors else text


def what_went_wrong(event: Event) -> tuple[str, str] | None:
    """(kind, text) when the event is a thing that went wrong, else None."""
    data = event.data
    if event.kind == "call" and _failed_action(event):
        return "command", _command_text(event)
    if event.kind == "not-simulated":
        return "not-simulated", "not simulated: " + " ".join(data["argv"])
    if event.kind == "job-skipped":
        return "launchd", f"launchd did not load {data['path']}: {data['reason']}"
    if event.kind == "job-spawn-failed":
        return "launchd", f"launchd could not start {event.job}: {data['reason']} (exit {data['last_exit']})"
    if event.kind == "torn":
        return "torn", f"the power cut tore {data['path']} (it came back {data['mode']})"
    if event.kind == "process-exit" and data.get("status", 0) != 0:
        return "exit", f"{event.job} exited with status {data['status']}"
    return None


def first_cause(events: list[Event], violations: list[Violation]) -> Cause | None:
    """The first thing that went wrong, or None when nothing was violated."""
    if not violations:
        return None
    shown = [v for v in violations if v.seq is not None]
    earliest = min(shown, key=lambda v: v.seq) if shown else None
    limit = earliest.seq if earliest else len(events)
    lines: dict[tuple[int, str | None], str] = {}
    for event in events[:limit + 1]:
        if event.kind == "step":
            lines[(event.boot, event.job)] = f"{os.path.basename(event.data['file'])}:{event.data['line']}"
            continue
        wrong = what_went_wrong(event)
        if wrong:
            kind, text = wrong
            return Cause(kind, text, event.boot, event.t_s, event.seq, event.job, lines.get((event.boot, event.job)))
    first = earliest or violations[0]
    kind = "expectation" if first.invariant == "expect" else "invariant"
    text = first.message if kind == "expectation" else f"{first.message} ({first.invariant})"
    if first.seq is None:
        return Cause(kind, text, first.boot)
    event = events[first.seq]
    return Cause(kind, text, event.boot, event.t_s, event.seq, event.job, lines.get((event.boot, event.job)))
