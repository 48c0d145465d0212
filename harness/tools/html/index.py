"""The index.html of a set of runs: a suite, a gate (base against head), an exploration.

Each lists what failed first and links to the pages of the runs, and to each failing run's
first cause (PAGE#first-cause): a reader is one click from the first thing that went wrong.
"""
from __future__ import annotations

from pathlib import Path

from . import document

INDEX = "index.html"
#: Failing first: what a reader opened the index for.
VERDICT_ORDER = {"fail": 0, "error": 1, "pass": 2, "not-applicable": 3}
#: Regressions first, then what must be fixed before merging, then what is merely known.
GATE_ORDER = ("regressed", "required-failure", "still-failing", "failing", "fixed", "pass", "not-applicable")


def _counts(values: list[str], order) -> dict[str, int]:
    return {value: values.count(value) for value in order if value in values}


def write_suite_index(directory: Path, runs: list[dict], *, script: dict | None = None,
                      title: str = "scenarios") -> Path:
    """index.html for runs [{"name", "verdict", "summary", "page", "first_cause", "violations"}],
    failing first (then in the order given). `script`: {"path", "sha256"} of what they ran."""
    ordered = sorted(runs, key=lambda run: VERDICT_ORDER.get(run.get("verdict"), 0))
    data = {"page": "suite", "title": title, "script": script, "runs": ordered,
            "counts": _counts([run.get("verdict") for run in runs], VERDICT_ORDER)}
    failed = sum(1 for run in runs if run.get("verdict") in ("fail", "error"))
    return document.write(directory, INDEX, f"{failed} failing of {len(runs)} {title} — macsim", data)


def write_gate_index(directory: Path, rows: list[dict], *, base: dict, head: dict, partial: bool = False) -> Path:
    """index.html of a gate: base and head side by side per scenario, regressions first.
    rows: [{"name", "class", "base": {"verdict", "page", "first_cause"} | None, "head": … | None}];
    base, head: {"path", "sha256", "claims"}."""
    rank = {name: number for number, name in enumerate(GATE_ORDER)}
    ordered = sorted(rows, key=lambda row: rank.get(row.get("class"), 0))
    data = {"page": "gate", "base": base, "head": head, "rows": ordered,
            "counts": _counts([row.get("class") for row in rows], GATE_ORDER)}
    regressed = sum(1 for row in rows if row.get("class") in ("regressed", "required-failure"))
    cut = " (interrupted: partial)" if partial else ""
    return document.write(directory, INDEX, f"gate: {regressed} blocking of {len(rows)}{cut} — macsim", data)


def write_exploration_index(directory: Path, exploration: dict, pages: dict[str, str]) -> Path:
    """index.html of `macsim explore --json`'s document (Exploration.to_json()): what the run
    without a cut already breaks first, then the failures the cuts add grouped by invariant, one
    entry per (invariant, cause) as explore groups them, each with its crash point, its replay
    command and a link to its crash-point run's page (pages: replay command -> page file name)."""
    groups: dict[str, list[dict]] = {}
    for failure in exploration.get("failures", []):
        entry = {**failure, "page": pages.get(failure.get("replay", ""))}
        groups.setdefault(failure.get("invariant", "?"), []).append(entry)
    stats = {key: value for key, value in exploration.items() if key not in ("failures", "points")}
    data = {"page": "exploration", "exploration": stats,
            "groups": [{"invariant": name, "failures": failures} for name, failures in groups.items()]}
    count = len(exploration.get("failures", []))
    return document.write(directory, INDEX, f"explore {exploration.get('scenario')}: {count} failure(s) — macsim", data)
