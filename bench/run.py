"""The benchmark: what a simulated boot, the test plan and its exploration cost on this machine.

    python bench/run.py [--json FILE] [--repeat N] [--quick]

Measures, in one run, and prints (and with --json writes) at least:

  floor_s              the bench script (boot_cost.SCRIPT) in a bare sandbox: the same bubblewrap
                       layout, every shim replaced by `true`, no step hook, no controller (median)
  boot_s               the same script in one simulated boot (Machine.run, median)
  ratio                boot_s / floor_s
  test_plan_s          the five test-plan scenarios, one after the other, against the built-in
                       bootstrap (src/run-puppet.sh), as `macsim run` runs them (median)
  steps_per_s          their steps / test_plan_s
  crash_points_per_s   crash points run (torn ones and cuts inside commands included) / the wall
                       time of `macsim explore` of test-plan-1 on all cores
  explore_test_plan_s  the wall time of exploring all five test-plan scenarios on all cores
  peak_rss_mb          the largest resident set of this process and of every process it waited for
  machine              cores, CPU model, kernel, Python, bash: where the figures come from

`--quick` leaves out the exploration of all five (minutes). Timings live here, never in the
test suite's assertions. The machine may be busy with other work: the medians of --repeat runs
(default 5 for a boot, 3 for the test plan) are what is reported.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import boot_cost  # noqa: E402
from harness import Limits, Machine  # noqa: E402
from harness.mac.confine import remove_tree  # noqa: E402
from harness.mac.disk import Disk  # noqa: E402
from harness.mac.processes import find_bwrap  # noqa: E402
from harness.scenarios import DEFAULT_SCRIPT, load_scenario, run_scenario  # noqa: E402
from harness.tools.explore import explore  # noqa: E402

TEST_PLAN = sorted((ROOT / "scenarios").glob("test-plan-*.toml"))


def boot_figures(repeat: int, work: Path) -> dict:
    """floor_s, boot_s and their ratio: medians of `repeat` runs each, interleaved."""
    bwrap = find_bwrap()
    runtime = boot_cost.bare_runtime(work / "bare-runtime")
    floors, boots = [], []
    for i in range(repeat + 1):  # the first of each warms the caches: not counted
        disk = Disk.create(work / f"floor{i}" / "disk")
        disk.add_file("/private/var/tmp/bench.sh", boot_cost.SCRIPT, mode=0o755)
        floor = boot_cost.floor_once(bwrap, disk.root, runtime, "/private/var/tmp/bench.sh")
        machine = Machine(work / f"boot{i}", limits=Limits(real_s=60))
        machine.start_script(boot_cost.SCRIPT.encode(), name="bench.sh")
        started = time.perf_counter()
        result = machine.run()
        boot = time.perf_counter() - started
        if result.verdict.value != "quiet":
            raise SystemExit(f"the bench script did not end quiet: {result.verdict.value} ({result.detail})")
        if i:
            floors.append(floor)
            boots.append(boot)
    floor_s, boot_s = statistics.median(floors), statistics.median(boots)
    return {"floor_s": round(floor_s, 4), "boot_s": round(boot_s, 4), "ratio": round(boot_s / floor_s, 2)}


def test_plan_figures(repeat: int, work: Path) -> dict:
    """test_plan_s and steps_per_s: the median of `repeat` runs of the five scenarios."""
    script = DEFAULT_SCRIPT.read_bytes()
    scenarios = [load_scenario(path) for path in TEST_PLAN]
    walls, steps = [], 0
    for i in range(repeat):
        started, steps = time.perf_counter(), 0
        for n, scenario in enumerate(scenarios):
            run = run_scenario(scenario, script, DEFAULT_SCRIPT.name, work / f"plan{i}-{n}" / "mac")
            if run.verdict != "pass":
                raise SystemExit(f"{scenario.name} did not pass: {[v.message for v in run.violations]}")
            steps += run.result.steps
        walls.append(time.perf_counter() - started)
        remove_tree(work)  # its Macs' disks are mounts (harness/mac/confine.py)
        work.mkdir()
    wall = statistics.median(walls)
    return {"test_plan_s": round(wall, 2), "test_plan_steps": steps, "steps_per_s": round(steps / wall)}


def explore_figures(quick: bool) -> dict:
    """crash_points_per_s (test-plan-1) and, unless quick, explore_test_plan_s (all five)."""
    jobs = os.cpu_count() or 1
    figures, total_s = {}, 0.0
    for path in TEST_PLAN[:1] if quick else TEST_PLAN:
        started = time.perf_counter()
        exploration = explore(load_scenario(path), DEFAULT_SCRIPT, jobs=jobs, progress=io.StringIO())
        wall = time.perf_counter() - started
        total_s += wall
        print(f"  explore {path.stem}: {len(exploration.runs)} crash points "
              f"({exploration.inside_commands} inside commands, {exploration.torn_points} torn) in {wall:.1f} s, "
              f"{len(exploration.failures)} failures", file=sys.stderr)
        if path == TEST_PLAN[0]:
            figures.update(crash_points_per_s=round(len(exploration.runs) / wall, 2),
                           explore_test_plan_1_s=round(wall, 1), test_plan_1_crash_points=len(exploration.runs),
                           test_plan_1_inside_commands=exploration.inside_commands)
    if not quick:
        figures["explore_test_plan_s"] = round(total_s, 1)
    return figures


def machine_facts() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    bash = subprocess.run(["bash", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release(), "python": platform.python_version(),
            "bash": bash, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="runs of a boot (the test plan: N // 2 + 1)")
    parser.add_argument("--quick", action="store_true", help="leave out exploring all five test-plan scenarios")
    args = parser.parse_args()
    figures = {"machine": machine_facts()}
    work = Path(tempfile.mkdtemp(prefix="macsim-bench-"))
    try:
        figures.update(boot_figures(args.repeat, work / "boots"))
        print(f"boot: {figures['boot_s'] * 1000:.1f} ms, floor {figures['floor_s'] * 1000:.1f} ms, "
              f"ratio {figures['ratio']}", file=sys.stderr)
        (work / "plan").mkdir()
        figures.update(test_plan_figures(args.repeat // 2 + 1, work / "plan"))
        print(f"test plan: {figures['test_plan_s']} s, {figures['steps_per_s']} steps/s", file=sys.stderr)
        figures.update(explore_figures(args.quick))
    finally:
        remove_tree(work)
    figures["peak_rss_mb"] = peak_rss_mb()
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
