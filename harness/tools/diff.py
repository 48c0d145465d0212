"""What changes on a host between two bootstrap scripts run on the same scenario.

Both scripts run on identical Macs with the same seed; each trace is reduced to what a host
operator cares about, in order: puppet invocations (arguments, cwd, facts and PATH), launchd
operations (launchctl calls and their answers), files written, reboots, and the boot and
simulated time at which the semaphore appears. The report lists, per aspect, what only the
baseline did and what only the candidate did.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from ..fleet import SEMAPHORE
from ..mac.confine import temporary_folder
from ..scenarios import Scenario, run_scenario
from ..trace import Event

ASPECTS = ("puppet", "launchd", "files", "reboots", "semaphore")
NOISY = ("/private/tmp/", "/private/var/run/", "/private/var/log/")


def summarize(events: list[Event]) -> dict[str, list[str]]:
    """The operator-visible behaviour of one run, one line per thing done."""
    summary: dict[str, list[str]] = {aspect: [] for aspect in ASPECTS}
    for event in events:
        data = event.data
        if event.kind == "puppet-apply":
            facts = " ".join(f"{k}={v}" for k, v in sorted(data["facts"].items()))
            summary["puppet"].append(f"boot {event.boot}: {' '.join(data['argv'])} (cwd {data['cwd']}; "
                                     f"{facts}; PATH={data['path']})")
        elif event.kind == "call" and data["name"] == "launchctl":
            summary["launchd"].append(f"boot {event.boot}: {' '.join(data['argv'])} -> {data.get('status')}")
        elif event.kind == "file" and data["change"] != "attributes" and not data["path"].startswith(NOISY):
            summary["files"].append(f"boot {event.boot}: {data['change']} {data['path']}")
        elif event.kind == "shutdown":
            summary["reboots"].append(f"boot {event.boot}: {data['how']} ({data['cause']})")
        elif event.kind == "file" and data["path"] == SEMAPHORE and data["change"] != "removed":
            summary["semaphore"].append(f"written in boot {event.boot} at {event.t_s:g} s")
    return summary


def compare(baseline: dict[str, list[str]], candidate: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per aspect, unified-diff lines ("- " only in baseline, "+ " only in candidate)."""
    changes = {}
    for aspect in ASPECTS:
        lines = [line for line in difflib.ndiff(baseline[aspect], candidate[aspect])
                 if line.startswith(("- ", "+ "))]
        if lines:
            changes[aspect] = _collapse(lines)
    return changes


def _collapse(lines: list[str]) -> list[str]:
    """A run of identical lines as one, with its count (a retry loop repeats itself)."""
    out: list[str] = []
    count = 0
    for index, line in enumerate(lines):
        count += 1
        if index + 1 < len(lines) and lines[index + 1] == line:
            continue
        out.append(line if count == 1 else f"{line}  (×{count})")
        count = 0
    return out


def diff_scripts(scenario: Scenario, baseline: Path, candidate: Path, *, seed: int | None = None
                 ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Runs both scripts on the scenario; returns (changes by aspect, candidate summary)."""
    summaries = []
    for script in (baseline, candidate):
        with temporary_folder("macsim-diff-") as work:
            run = run_scenario(scenario, script.read_bytes(), script.name, Path(work) / "mac", seed=seed)
            summaries.append(summarize(run.result.trace.events))
    return compare(*summaries), summaries[1]


def render(changes: dict[str, list[str]], baseline: Path, candidate: Path) -> str:
    if not changes:
        return f"no difference on the host between {baseline} and {candidate}"
    out = [f"--- {baseline}", f"+++ {candidate}"]
    for aspect, lines in changes.items():
        out.append(f"{aspect}:")
        out += [f"  {line}" for line in lines]
    return "\n".join(out)
