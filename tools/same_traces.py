"""Record what macsim observably does, so a refactor can show it changed nothing.

    python tools/same_traces.py record DIR [--seeds 0 1 2] [--explore SCENARIO] [--diff SCENARIO]
    python tools/same_traces.py compare DIR_BEFORE DIR_AFTER

`record` runs, through the `macsim` command of the checkout it is started from (python -m
harness with that checkout first on the path): every scenario in scenarios/ for each seed,
keeping each trace; `explore --json` of one scenario; `diff` of one scenario between the built-in
bootstrap and a one-line variant of it. `compare` reports every file that differs, byte for byte
(the explore JSON without its wall-clock fields), and exits 1 if any does.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALL_CLOCK_KEYS = {"wall_s", "real_s", "elapsed_s"}
#: A change to the bootstrap that moves the host's behaviour, for `diff` to have something to show.
DIFF_VARIANT = ("FACTER_PUPPETIZING=true", "FACTER_PUPPETIZING=1")


def macsim(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                          text=True, capture_output=True, **kwargs)


def record(out: Path, seeds: list[int], explore: str, diff: str) -> int:
    out.mkdir(parents=True, exist_ok=False)
    for seed in seeds:
        done = macsim("run", "--seed", str(seed), "--trace", str(out / f"seed-{seed}"), "scenarios")
        print(f"seed {seed}: {done.stdout.strip().splitlines()[-2]}", flush=True)
    explored = macsim("explore", explore, "--json", str(out / "explore.json"))
    print(f"explore {explore}: exit {explored.returncode}", flush=True)
    bootstrap = (ROOT / "src" / "run-puppet.sh").read_text()
    variant = out / "variant.sh"
    variant.write_text(bootstrap.replace(*DIFF_VARIANT))
    diffed = macsim("diff", diff, "--baseline", "src/run-puppet.sh", "--candidate", str(variant))
    (out / "diff.txt").write_text(diffed.stdout.replace(str(variant), "VARIANT"))
    print(f"diff {diff}: exit {diffed.returncode}", flush=True)
    return 0


def _without_wall_clock(value):
    if isinstance(value, dict):
        return {k: _without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK_KEYS}
    if isinstance(value, list):
        return [_without_wall_clock(v) for v in value]
    return value


def compare(before: Path, after: Path) -> int:
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    differing = []
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            differing.append(f"{name}: only in {'after' if not a.exists() else 'before'}")
        elif name.suffix == ".json" and name.name == "explore.json":
            if _without_wall_clock(json.loads(a.read_text())) != _without_wall_clock(json.loads(b.read_text())):
                differing.append(f"{name}: differs")
        elif name.name != "variant.sh" and not filecmp.cmp(a, b, shallow=False):
            differing.append(f"{name}: differs")
    for line in differing:
        print(line)
    print(f"{len(names)} files compared, {len(differing)} differ")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    rec.add_argument("--explore", default="scenarios/test-plan-5-test-kitchen.toml")
    rec.add_argument("--diff", default="scenarios/test-plan-1-fresh-m4.toml")
    cmp_ = commands.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        return record(args.out.resolve(), args.seeds, args.explore, args.diff)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
