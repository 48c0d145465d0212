#!/usr/bin/env python3
"""Check that every scenario guards something: a one-line change to the bootstrap makes it fail.

Usage: python tools/check_guards.py [--script PATH] [--guards FILE] [--scenarios DIR]
                                    [--jobs N] [SCENARIO...]

tests/quality/scenario_guards.toml names, for every scenario in scenarios/, one line of
src/run-puppet.sh and what to replace it with (a "mutant"), what that breaks, and which
expectation or invariant must fail. A guard with `script = PATH` changes that file instead: the
M4 enrolment driver a scenario runs (`[start] driver`), whose mutant runs as `--driver`. For
each guard this tool:

1. builds the mutant from the current script in a temporary directory; a `find` line that
   does not occur exactly once is an error (the script changed: update the guard);
2. runs the unmodified script on the guarded scenarios (once, all together): a mutant only
   means something when the scenario passes without it;
3. runs `macsim run --script MUTANT SCENARIO`: exit 1 is "caught", exit 0 "NOT caught"; a
   mutant caught without the guard's `fails_with` text among the failures is shown as caught
   for another reason;

then prints a table (scenario, mutant, expected failure, result) and the details of every
row that is not a plain "caught". A scenario file with no guard is reported too.

SCENARIO arguments (file names or names, e.g. field-no-role) limit the check to those.
Exit status: 0 when every scenario has a guard and every mutant is caught; 1 otherwise (a
mutant not caught, a guard whose line is gone, a scenario without a guard or failing
unmodified); 2 for a usage error or a guards file that cannot be read.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCRIPT = ROOT / "src" / "run-puppet.sh"
DEFAULT_GUARDS = ROOT / "tests" / "quality" / "scenario_guards.toml"
DEFAULT_SCENARIOS = ROOT / "scenarios"
MACSIM = [sys.executable, "-m", "harness"]
RUN_TIMEOUT_S = 1800
TEXT_KEYS = ("scenario", "mutant", "breaks", "expected_failure", "fails_with")
KEYS = (*TEXT_KEYS, "find", "replace", "pending", "script")

# Results
CAUGHT = "caught"
CAUGHT_OTHERWISE = "caught (other failure)"
NOT_CAUGHT = "NOT caught"
BASELINE_FAILS = "NOT checked: fails unmodified"
PENDING = "NOT guarded: pending"
NO_GUARD = "NOT guarded: no entry"
STALE = "ERROR: find line"
RUN_ERROR = "ERROR: macsim"
GOOD = (CAUGHT, CAUGHT_OTHERWISE)


class GuardFileError(Exception):
    """The guards file cannot be read or an entry is malformed."""


@dataclass
class Guard:
    index: int
    scenario: str
    mutant: str
    breaks: str
    expected_failure: str
    fails_with: str
    find: str | None = None
    replace: str | None = None
    pending: str | None = None
    script: str | None = None  # the driver the mutant changes, relative to the root; None: the bootstrap

    @property
    def path(self) -> Path:
        return ROOT / self.scenario


@dataclass
class Row:
    scenario: str
    mutant: str
    expected: str
    result: str
    details: list[str] = field(default_factory=list)


def load_guards(path: Path) -> list[Guard]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise GuardFileError(f"{path}: {error}") from error
    unknown = set(data) - {"guard"}
    if unknown:
        raise GuardFileError(f"{path}: unknown top-level key(s) {sorted(unknown)}; only [[guard]] entries")
    entries = data.get("guard", [])
    if not isinstance(entries, list) or not entries:
        raise GuardFileError(f"{path}: no [[guard]] entries")
    guards = []
    for index, entry in enumerate(entries):
        where = f"{path}: guard[{index}]"
        extra = set(entry) - set(KEYS)
        if extra:
            raise GuardFileError(f"{where}: unknown key(s) {sorted(extra)}; known: {', '.join(KEYS)}")
        for key in (*TEXT_KEYS, "find", "replace", "pending", "script"):
            if key in entry and not isinstance(entry[key], str):
                raise GuardFileError(f"{where}.{key}: expected a string, found {entry[key]!r}")
        missing = [key for key in TEXT_KEYS if not entry.get(key)]
        if missing:
            raise GuardFileError(f"{where}: missing {', '.join(missing)}")
        has_change = "find" in entry or "replace" in entry
        if "pending" in entry and has_change:
            raise GuardFileError(f"{where}: either find and replace, or pending, not both")
        if "pending" not in entry and not ("find" in entry and "replace" in entry):
            raise GuardFileError(f"{where}: needs find and replace (or pending, with the reason)")
        for key in ("find", "replace"):
            if "\n" in entry.get(key, ""):
                raise GuardFileError(f"{where}.{key}: one line only (no newline)")
        if entry.get("find") == "":
            raise GuardFileError(f"{where}.find: empty")
        guards.append(Guard(index=index, **{key: entry[key] for key in KEYS if key in entry}))
    return guards


def mutate(script: str, guard: Guard, script_name: str) -> str:
    """The script with the guard's line replaced; ValueError saying why when it cannot be."""
    lines = script.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    hits = [number for number, line in enumerate(bare) if line == guard.find]
    if len(hits) == 1:
        ending = lines[hits[0]][len(bare[hits[0]]):]
        lines[hits[0]] = guard.replace + ending
        return "".join(lines)
    if hits:
        where = ", ".join(str(number + 1) for number in hits)
        raise ValueError(f"the line to find occurs {len(hits)} times in {script_name} (lines {where}), "
                         f"not once: make `find` a line that is unique")
    close = difflib.get_close_matches(guard.find, bare, n=1, cutoff=0.6)
    hint = f"; the closest line is {bare.index(close[0]) + 1}: {close[0]!r}" if close else ""
    raise ValueError(f"the line to find is not in {script_name} (the script changed: update this guard's "
                     f"find and replace){hint}; find = {guard.find!r}")


def run_macsim(script: Path, scenarios: list[Path], report: Path,
               driver: Path | None = None) -> tuple[int, dict | None, str]:
    """(exit status, the --json report or None, what macsim printed)."""
    command = [*MACSIM, "run", "--quiet", "--script", str(script), "--json", str(report),
               *(["--driver", str(driver)] if driver else []), *(str(path) for path in scenarios)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, None, f"timed out after {RUN_TIMEOUT_S} s: {' '.join(command)}"
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        data = None
    return done.returncode, data, (done.stdout + done.stderr).strip()


def scenario_reports(data: dict | None) -> dict[Path, dict]:
    reports = {}
    for item in (data or {}).get("scenarios", []):
        reports[(ROOT / item["file"]).resolve()] = item
    return reports


def failures(item: dict) -> list[str]:
    return [f"{v.get('invariant')}: {v.get('message')}" for v in item.get("violations", [])]


def check_mutant(guard: Guard, mutant: Path, workdir: Path, script: Path) -> Row:
    """Runs the guarded scenario with the mutant: as the bootstrap, or as the driver beside `script`."""
    row = Row(guard.path.stem, guard.mutant, guard.fails_with, "")
    if guard.script:
        status, data, printed = run_macsim(script, [guard.path], workdir / "report.json", driver=mutant)
    else:
        status, data, printed = run_macsim(mutant, [guard.path], workdir / "report.json")
    item = scenario_reports(data).get(guard.path.resolve())
    if status == 0 and item is not None and item.get("verdict") == "pass":
        row.result = NOT_CAUGHT
        row.details = [f"the scenario passes with this change: {guard.breaks}",
                       f"expected to fail: {guard.expected_failure}"]
    elif status == 1 and item is not None and item.get("verdict") in ("fail", "error"):
        found = failures(item)
        if any(guard.fails_with in text for text in found):
            row.result = CAUGHT
        else:
            row.result = CAUGHT_OTHERWISE
            row.details = [f"no failure contains {guard.fails_with!r}; it failed with:",
                           *(f"  {text}" for text in found[:5])]
    else:
        row.result = f"{RUN_ERROR} exit {status}"
        row.details = printed.splitlines()[-10:]
    return row


def wanted(paths: list[Path], names: list[str]) -> list[Path]:
    if not names:
        return paths
    keys = {Path(name).stem for name in names}
    chosen = [path for path in paths if path.stem in keys]
    unknown = keys - {path.stem for path in chosen}
    if unknown:
        raise ValueError(f"no such scenario in {paths[0].parent if paths else 'the scenarios folder'}: "
                         f"{', '.join(sorted(unknown))}")
    return chosen


def print_table(rows: list[Row]) -> None:
    headers = ("scenario", "mutant", "expected failure", "result")
    cells = [(r.scenario, r.mutant, r.expected, r.result) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    widths[2] = min(widths[2], 60)

    def line(values) -> str:
        out = []
        for value, width in zip(values, widths):
            value = value if len(value) <= width else value[:width - 1] + "…"
            out.append(value.ljust(width))
        return "  ".join(out).rstrip()
    print(line(headers))
    print(line("-" * w for w in widths))
    for cell in cells:
        print(line(cell))
    for row in rows:
        if row.details:
            print(f"\n{row.scenario} / {row.mutant}: {row.result}")
            for detail in row.details:
                print(f"    {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios_wanted", nargs="*", metavar="SCENARIO",
                        help="check only these scenarios (file names or names)")
    parser.add_argument("--script", type=Path, default=DEFAULT_SCRIPT, help="the bootstrap to mutate")
    parser.add_argument("--guards", type=Path, default=DEFAULT_GUARDS, help="the guards file")
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS,
                        help="the folder whose every scenario needs a guard")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    args = parser.parse_args(argv)
    try:
        guards = load_guards(args.guards)
        script = args.script.read_text()
    except (GuardFileError, OSError) as error:
        print(f"check_guards: {error}", file=sys.stderr)
        return 2
    script_name = str(args.script)
    try:
        scenario_files = wanted(sorted(args.scenarios.resolve().glob("*.toml")), args.scenarios_wanted)
    except ValueError as error:
        print(f"check_guards: {error}", file=sys.stderr)
        return 2
    guarded = {guard.path.resolve() for guard in guards}
    selected = {path.resolve() for path in scenario_files}
    if args.scenarios_wanted:
        guards = [guard for guard in guards if guard.path.resolve() in selected]

    rows: dict[int, Row] = {}
    no_guard = [Row(path.stem, "-", "-", NO_GUARD, ["add a [[guard]] for this scenario to " + str(args.guards)])
                for path in scenario_files if path.resolve() not in guarded]
    with tempfile.TemporaryDirectory(prefix="macsim-guards-") as temp:
        temp_dir = Path(temp)
        mutants: dict[int, Path] = {}
        for guard in guards:
            row = Row(guard.path.stem, guard.mutant, guard.fails_with, "")
            if not guard.path.is_file():
                row.result, row.details = STALE, [f"{guard.scenario}: no such scenario file"]
            elif guard.pending is not None:
                row.result, row.details = PENDING, [guard.pending]
            else:
                try:
                    if guard.script:
                        text = mutate((ROOT / guard.script).read_text(), guard, guard.script)
                    else:
                        text = mutate(script, guard, script_name)
                except (ValueError, OSError) as error:
                    row.result, row.details = STALE, [str(error)]
                    print(f"check_guards: {args.guards} guard[{guard.index}] ({guard.scenario}): {error}",
                          file=sys.stderr)
                else:
                    folder = temp_dir / f"{guard.index:03d}"
                    folder.mkdir()
                    mutants[guard.index] = folder / f"{guard.mutant}.sh"
                    mutants[guard.index].write_text(text)
                    continue
            rows[guard.index] = row

        # The unmodified script first: a scenario that already fails guards nothing.
        to_run = [guard for guard in guards if guard.index in mutants]
        baseline_paths = sorted({guard.path for guard in to_run})
        if baseline_paths:
            print(f"check_guards: {len(baseline_paths)} scenario(s) against the unmodified {script_name} ...",
                  flush=True)
            status, data, printed = run_macsim(args.script, baseline_paths, temp_dir / "baseline.json")
            reports = scenario_reports(data)
            for guard in list(to_run):
                item = reports.get(guard.path.resolve())
                if item is None or item.get("verdict") != "pass":
                    reason = failures(item)[:5] if item else printed.splitlines()[-10:]
                    rows[guard.index] = Row(guard.path.stem, guard.mutant, guard.fails_with, BASELINE_FAILS,
                                            ["the unmodified script does not pass this scenario:", *reason])
                    to_run.remove(guard)

        print(f"check_guards: {len(to_run)} mutant(s) ...", flush=True)

        def one(guard: Guard) -> Row:
            folder = mutants[guard.index].parent
            return check_mutant(guard, mutants[guard.index], folder, args.script)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for guard, row in zip(to_run, pool.map(one, to_run)):
                rows[guard.index] = row
                print(f"  {row.scenario} / {row.mutant}: {row.result}", flush=True)

    ordered = sorted(rows.values(), key=lambda r: (r.scenario, r.mutant)) + no_guard
    print()
    print_table(ordered)
    bad = [row for row in ordered if row.result not in GOOD]
    print(f"\n{len(ordered) - len(bad)} of {len(ordered)} caught"
          + (f"; {len(bad)} not: " + ", ".join(f"{r.scenario} ({r.result})" for r in bad) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
