"""One run's page: its verdict and first cause on top, the host's life as a timeline, the script's coverage."""
from __future__ import annotations

from pathlib import Path

from ...trace import Event
from . import document, marks, timeline
from .coverage import counted_files, coverage


def run_page_data(*, name: str, events: list[Event], verdict: str, violations: list[dict],
                  first_cause: dict | None, script_name: str, script_text: str, replay: str,
                  summary: str = "", index: str | None = "index.html") -> dict:
    """Everything a run's page shows, as the JSON its script draws from."""
    lines = coverage(events, script_text) if script_text else None
    drawn = timeline.build(events, first_cause=first_cause, violations=violations,
                           counted_files=counted_files(lines) if lines else set())
    cause = None
    if first_cause is not None:
        cause = {**first_cause, "mark": drawn["first_cause"]}
    steps = [event.data["step"] for event in events if event.kind == "step" and isinstance(event.data.get("step"), int)]
    return {
        "page": "run", "name": name, "index": index, "verdict": verdict, "summary": summary, "replay": replay,
        "script": script_name,
        "stats": {"events": len(events), "boots": sum(1 for event in events if event.kind == "boot"),
                  "steps": max(steps, default=0), "simulated_s": events[-1].t_s if events else 0},
        "first_cause": cause,
        "violations": [{**violation, "mark": mark} for violation, mark in
                       zip(violations, drawn["violations"], strict=True)],
        "timeline": drawn, "categories": marks.CATEGORIES, "coverage": lines,
    }


def write_run_page(directory: Path, *, name: str, events: list[Event], verdict: str, violations: list[dict],
                   first_cause: dict | None, script_name: str, script_text: str, replay: str,
                   summary: str = "", index: str | None = "index.html") -> Path:
    """Writes directory/NAME.html (NAME made safe for a file name) and returns its path.

    `violations`: [{"invariant", "message", "boot", "step"}] (boot and step may be None; a "seq"
    places one at its event). `first_cause`: None when the run passed, else {"kind", "seq",
    "boot", "t_s", "job", "line", "text"} (harness/scenarios/causes.py). `script_text` may be ""
    when the source is not known: the page then has no coverage. `index`: the index page beside
    it that its "all runs" link goes to (None: no such link)."""
    data = run_page_data(name=name, events=events, verdict=verdict, violations=violations,
                         first_cause=first_cause, script_name=script_name, script_text=script_text,
                         replay=replay, summary=summary, index=index)
    return document.write(directory, document.file_name(name), f"{verdict.upper()} {name} — macsim", data)
