"""What one trace event looks like on a run's page: its category, a one-line label, its details.

The page marks what a reader of a host's log wants (the terminal timeline's choice, in
harness/tools/report.py): commands that act or fail, launchd's decisions, files written
outside the temporary folders, boots and shutdowns, puppet applies, the world's events. A
step is never a mark (steps feed the script lines and the coverage). Every string here comes
from a trace, so it is untrusted text: the page puts it in the DOM with textContent only.
"""
from __future__ import annotations

import json
import shlex

from ...trace import Event

#: Answers to questions nobody needs to see when they succeed (report.QUIET_CALLS).
QUIET_CALLS = {"date", "sleep", "hostname", "sw_vers", "uname", "id", "whoami", "dscacheutil"}
#: Scratch space every script fills: a write there is noise (report.NOISY_PREFIXES).
NOISY_PREFIXES = ("/private/tmp/", "/private/var/folders/")
#: A detail longer than this is cut: the page stays small, and the trace keeps the whole text.
TEXT_LIMIT = 4000

CATEGORY_OF_KIND = {
    "call": "command", "not-simulated": "command",
    "job-loaded": "launchd", "job-skipped": "launchd", "job-started": "launchd", "job-exited": "launchd",
    "job-stopping": "launchd", "job-throttled": "launchd", "job-removed": "launchd",
    "job-spawn-failed": "launchd", "override": "launchd", "override-unreadable": "launchd",
    "file": "file", "torn": "file", "tcc-database": "file", "disk-full": "file",
    "boot": "boot", "shutdown": "boot", "power-loss": "boot", "installer-boot": "boot",
    "macos-updated": "boot", "scheduled": "world", "end": "boot", "limit": "boot", "quiet": "boot",
    "puppet-apply": "puppet", "puppet-apply-done": "puppet", "puppet-role-applied": "puppet",
    "process-start": "process", "process-exit": "process", "worker-started": "process",
    "git-push": "world", "network": "world", "mail": "world", "call-answered": "command",
}
#: The categories in the order the legend shows them, each with what it gathers.
CATEGORIES = {
    "boot": "boots, shutdowns, power cuts, macOS updates, the run's end",
    "command": "commands the Mac answered (shims) and commands it does not simulate",
    "launchd": "launchd's decisions: loaded, skipped, started, stopped, removed, overrides",
    "file": "files written, moved or removed outside the temporary folders; torn files",
    "puppet": "puppet applies (a bar from start to end) and what the role installed",
    "process": "scripts started and ended, the worker starting",
    "world": "the world around the Mac: scheduled events, pushes, the network, mail",
}


def category(event: Event) -> str:
    return CATEGORY_OF_KIND.get(event.kind, "world")


def cut(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    return text[:TEXT_LIMIT] + f"\n… {len(text) - TEXT_LIMIT} more characters (the trace has them all)"


def command_line(argv: list) -> str:
    return shlex.join(str(arg) for arg in argv)


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _call_label(data: dict) -> str | None:
    status = data.get("status")
    if data.get("name") in QUIET_CALLS and status == 0:
        return None
    text = "$ " + command_line(data.get("argv", []))
    if "exec" in data:
        return f"{text} → runs {command_line(data['exec'])}"
    if data.get("deferred"):
        return None if data.get("name") == "sleep" else f"{text} → waits"
    error = _last_line(data.get("stderr", "")) if status else ""
    return f"{text} → {status}" + (f" ({error})" if error else "")


def _file_label(data: dict) -> str | None:
    path = str(data.get("path", ""))
    if path.startswith(NOISY_PREFIXES):
        return None
    if data.get("change") == "renamed":
        return f"renamed: {data.get('from')} → {path}"
    return f"{data.get('change')}: {path}"


def _boot_label(data: dict, boot: int) -> str:
    daemons = data.get("daemons", [])
    parts = [f"{len(daemons)} daemon plist(s) in /Library/LaunchDaemons"]
    if data.get("removed_at_boot"):
        parts.append(f"{data['removed_at_boot']} path(s) emptied at boot")
    return f"boot {boot}: " + ", ".join(parts)


LABELS = {
    "call": lambda e: _call_label(e.data),
    "file": lambda e: _file_label(e.data),
    "not-simulated": lambda e: "NOT SIMULATED: " + command_line(e.data.get("argv", [])),
    "process-start": lambda e: (f"started as {e.data['user']}: {command_line(e.data.get('argv', []))}"
                                if "user" in e.data else None),
    "process-exit": lambda e: f"exited: {e.data.get('signal') or e.data.get('status')}",
    "job-loaded": lambda e: f"loaded {e.job} from {e.data.get('path')} ({e.data.get('how')})"
                            + (" (disabled)" if e.data.get("disabled") else ""),
    "job-skipped": lambda e: f"launchd skipped {e.data.get('path')}: {e.data.get('reason')}",
    "job-spawn-failed": lambda e: f"could not start {e.job}: {e.data.get('reason')}",
    "job-started": lambda e: f"launchd started {e.job} ({e.data.get('why')})",
    "job-exited": lambda e: f"{e.job} exited: {e.data.get('signal') or e.data.get('status')}",
    "job-throttled": lambda e: f"throttled {e.job} until {e.data.get('until_s')} s",
    "job-stopping": lambda e: f"stopping {e.job}" + (f": {e.data['detail']}" if e.data.get("detail") else " (SIGTERM)"),
    "job-removed": lambda e: f"removed {e.job}" + (f" ({e.data['reason']})" if e.data.get("reason") else ""),
    "override": lambda e: f"{'disabled' if e.data.get('disabled') else 'enabled'} {e.data.get('label')} "
                          "(override database)",
    "override-unreadable": lambda e: "launchd could not read its override database",
    "torn": lambda e: f"TORN by the power cut: {e.data.get('path')} came back {e.data.get('mode')} "
                      f"({e.data.get('size')} bytes)",
    "tcc-database": lambda e: f"TCC database {e.data.get('change')}: {e.data.get('path')}",
    "disk-full": lambda e: f"DISK FULL: {e.data.get('detail')}",
    "boot": lambda e: _boot_label(e.data, e.boot),
    "shutdown": lambda e: f"{e.data.get('how')} requested ({e.data.get('cause')})",
    "power-loss": lambda e: f"power cut ({e.data.get('cause')})",
    "installer-boot": lambda e: f"macOS installer boot ({e.data.get('boots_left')} boot(s) left)",
    "macos-updated": lambda e: f"macOS updated to {e.data.get('version')} ({e.data.get('build')})",
    "scheduled": lambda e: f"scheduled: {e.data.get('what')}",
    "end": lambda e: f"run ended: {e.data.get('verdict')} ({e.data.get('detail')})",
    "limit": lambda e: f"run ended: {e.data.get('verdict')} ({e.data.get('detail')})",
    "quiet": lambda e: f"run ended: {e.data.get('verdict')} ({e.data.get('detail')})",
    "puppet-apply": lambda e: f"puppet apply #{e.data.get('number')}",
    "puppet-role-applied": lambda e: f"puppet installed the {e.data.get('role_model')} role's files",
    "worker-started": lambda e: f"worker started: {command_line(e.data.get('argv', []))}",
    "git-push": lambda e: f"pushed to {e.data.get('branch')}: {e.data.get('message')}",
    "network": lambda e: f"network {e.data.get('state')}"
                         + (f" until {e.data['until_s']:g} s" if e.data.get("until_s") is not None else ""),
    "mail": lambda e: f"mail to {', '.join(e.data.get('recipients', []))}: {e.data.get('subject')}",
}


def label(event: Event) -> str | None:
    """One line for the event, or None when the page leaves it out (unless something points at it)."""
    make = LABELS.get(event.kind)
    return make(event) if make else None


def fallback_label(event: Event) -> str:
    """For an event the page would leave out but a first cause or a violation points at."""
    return label(event) or f"{event.kind}: " + ", ".join(f"{key}={value}" for key, value in sorted(event.data.items()))


def problem(event: Event) -> bool:
    """Something went wrong here, or may have: a red outline on the page."""
    data = event.data
    if event.kind in ("not-simulated", "torn", "job-skipped", "job-spawn-failed", "override-unreadable",
                      "power-loss", "disk-full"):
        return True
    if event.kind in ("call", "call-answered", "process-exit", "job-exited"):
        return isinstance(data.get("status"), int) and data["status"] != 0
    if event.kind == "puppet-apply-done":
        return not data.get("clean", True)
    return False


def _text(value) -> str:
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return cut("\n".join(value))
    return cut(json.dumps(value, sort_keys=True, indent=1))


#: The fields a reader looks for first, by kind, with their names on the page.
FIRST_FIELDS = {
    "call": (("argv", "command line"), ("status", "exit status"), ("stderr", "stderr"), ("stdout", "stdout"),
             ("exec", "runs"), ("cwd", "working directory"), ("user", "user")),
    "call-answered": (("status", "exit status"), ("stderr", "stderr"), ("stdout", "output")),
    "puppet-apply": (("argv", "command line"), ("cwd", "working directory"), ("facts", "facts"),
                     ("overlapping", "overlapping another apply")),
    "puppet-apply-done": (("status", "exit status"), ("clean", "clean (no Error: line)"), ("tcc", "TCC")),
    "file": (("change", "change"), ("path", "path"), ("from", "from"), ("launchd", "launchd would")),
    "process-start": (("argv", "command line"), ("user", "user"), ("cwd", "working directory")),
    "job-started": (("argv", "program"), ("user", "user"), ("why", "why")),
    "mail": (("subject", "subject"), ("recipients", "to"), ("body", "body")),
}


def details(event: Event) -> list[list[str]]:
    """[name, text] pairs: the kind's important fields first, then every other field of the event."""
    data = event.data
    pairs, shown = [], set()
    for key, name in FIRST_FIELDS.get(event.kind, ()):
        if key in data and data[key] not in ("", None, [], {}):
            value = command_line(data[key]) if key in ("argv", "exec") else data[key]
            pairs.append([name, _text(value)])
        shown.add(key)
    for key in sorted(data):
        if key not in shown and key != "step" and data[key] not in ("", None, [], {}):
            pairs.append([key, _text(data[key])])
    return pairs
