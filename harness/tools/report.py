"""Readable renderings of a trace: the per-boot timeline a person reads in the terminal.

The trace has every step; a timeline shows what an operator would want from a host's log:
boots and why they happened, jobs loaded, started and ended, the commands that matter
(launchctl, shutdown, sudo, install, anything that failed or is not simulated), files written
outside /tmp, each puppet apply (its facts; its exit code, whether it was clean and its TCC
line), when the network came up, and the moment the host was handed over.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from ..scenarios.invariants import DiskView
from ..trace import Event

QUIET_CALLS = {"date", "sleep", "hostname", "sw_vers", "uname", "id", "whoami", "dscacheutil"}
NOISY_PREFIXES = ("/private/tmp/", "/private/var/folders/")


def _who(event: Event) -> str:
    return (event.job or ("launchd" if event.kind.startswith("job-") else "")) or "-"


def _call_line(event: Event) -> str | None:
    data = event.data
    status = data.get("status")
    if data["name"] in QUIET_CALLS and status == 0:
        return None
    text = "$ " + " ".join(_quote(a) for a in data["argv"])
    if "exec" in data:
        return f"{text}  → runs {' '.join(data['exec'])}"
    if data.get("deferred"):
        return None if data["name"] == "sleep" else f"{text}  → waits"
    line = f"{text}  → {status}"
    if status and data.get("stderr"):
        line += f"  ({data['stderr'].strip().splitlines()[-1]})"
    return line


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "/._-+=:,@%" for c in arg) else repr(arg)


def describe(event: Event) -> str | None:
    """One timeline line for an event, or None when the timeline leaves it out."""
    data, kind = event.data, event.kind
    if kind == "call":
        return _call_line(event)
    if kind == "process-start" and "user" in data:
        return f"started as {data['user']}: {' '.join(data['argv'])}"
    if kind == "process-exit":
        return f"exited: {data.get('signal') or data.get('status')}"
    if kind == "job-loaded":
        suffix = " (disabled)" if data.get("disabled") else ""
        return f"loaded {event.job} from {data['path']} ({data['how']}){suffix}"
    if kind == "job-skipped":
        return f"skipped {data['path']}: {data['reason']}"
    if kind == "job-spawn-failed":
        return f"could not start {event.job}: {data['reason']} (last exit {data['last_exit']})"
    if kind == "job-throttled":
        return f"throttled {event.job} until {data['until_s']:g} s"
    if kind == "job-stopping":
        return f"stopping {event.job}" + (f": {data['detail']}" if data.get("detail") else " (SIGTERM)")
    if kind == "job-removed":
        return f"removed {event.job}" + (f" ({data['reason']})" if data.get("reason") else "")
    if kind == "override":
        return f"{'disabled' if data['disabled'] else 'enabled'} {data['label']} (override database)"
    if kind == "file":
        if data["path"].startswith(NOISY_PREFIXES):
            return None
        if data["change"] == "renamed":
            return f"renamed: {data['from']} -> {data['path']}"
        return f"{data['change']}: {data['path']}"
    if kind == "shutdown":
        return f"{data['how']} requested ({data['cause']})"
    if kind == "disk-full":
        return f"DISK FULL: {data['detail']}"
    if kind == "torn":
        return f"TORN by the power cut: {data['path']} came back {data['mode']} ({data['size']} bytes)"
    if kind in ("power-loss", "scheduled"):
        return f"{kind}: {data.get('cause') or data.get('what')}"
    if kind == "puppet-apply":
        facts = " ".join(f"{k}={v}" for k, v in data.get("facts", {}).items())
        return f"puppet apply {data['number']} starts ({facts})" + (" WHILE ANOTHER RUNS" if data.get("overlapping") else "")
    if kind == "puppet-apply-done":
        tcc = {"missing": "TCC.db missing", "denied": "TCC.db denied"}.get(data.get("tcc"), "")
        verdict = "clean" if data.get("clean") else "NOT clean"
        return f"puppet apply {data['number']} exits {data['status']}: {verdict}" + (f" ({tcc})" if tcc else "")
    if kind == "network":
        return "network up" if data["state"] == "up" else f"network down until {data['until_s']:g} s"
    if kind == "handed-over":
        return "HANDED OVER: " + data["what"]
    if kind == "not-simulated":
        return f"NOT SIMULATED: {' '.join(data['argv'])}" + (f" ({data['detail']})" if data.get("detail") else "")
    return None


def with_handover(events: Iterable[Event]) -> Iterator[Event]:
    """The events, with one more where the host is first handed over (the semaphore, a regular
    mechanism on disk, no bootstrap daemon): the moment a reader looks for."""
    view = DiskView()
    handed = False
    for event in events:
        yield event
        view.apply(event)
        if not handed and view.handed_over:
            handed = True
            yield Event(event.seq, event.t_s, event.boot, event.pid, event.job, "handed-over",
                        {"what": "the semaphore and a regular mechanism on disk, no bootstrap daemon left"})


def timeline(events: Iterable[Event]) -> str:
    lines: list[str] = []
    repeats = 0
    for event in with_handover(events):
        if event.kind == "boot":
            lines.append(f"boot {event.boot}  at {event.t_s:g} s"
                         + (f"  (emptied at boot: {event.data['removed_at_boot']} paths)" if event.data.get("removed_at_boot") else ""))
            continue
        text = describe(event)
        if text is None:
            continue
        line = f"  {event.t_s:>9.1f}s  {_who(event):<32.32} {text}"
        if lines and lines[-1].split("  (x")[0] == line:
            repeats += 1  # a log written line by line is one entry, with a count
            lines[-1] = f"{line}  (x{repeats + 1})"
            continue
        repeats = 0
        lines.append(line)
    return "\n".join(lines)
