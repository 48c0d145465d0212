"""The `macsim` command line."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ..errors import Interrupted, MacsimError, SimulatorFault
from ..fleet import CONTRACTS, binds
from ..mac import confine
from ..mac.config import HARNESS_VERSION, Limits, MachineConfig, Verdict
from ..mac.confine import remove_tree
from ..mac.machine import Machine
from ..mac.snapshot import keep_on_host
from ..mac.unflushed import TEAR_MODES
from ..scenarios import DEFAULT_SCRIPT
from ..world import install_fleet_world
from . import collector, fromhost
from . import gate as gate_tool
from . import show as show_tool
from . import interrupts, runs as runs_tool
from .conformance import cli as conformance_cli
from .options import UsageError, add_safety_options, capped, empty_dir, not_existing, script_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERNAL = 0, 1, 2, 3, 70

EPILOG = f"""\
exit codes:
  {EXIT_OK}   the Mac ended quiet (nothing running, nothing scheduled) or was halted
  {EXIT_FAILED}   the Mac ended blocked: processes alive, all waiting for something that never comes
  {EXIT_USAGE}   bad input (a missing script, a directory that is not empty, a bad option)
  {EXIT_LIMIT}   a limit was reached (boots, simulated time, steps, real seconds, processes or memory)
  {EXIT_INTERNAL}  macsim itself failed (no bubblewrap, no C compiler, the sandbox did not start)
  130, 143  interrupted (SIGINT, SIGTERM): the finished scenarios are in --json/--junit/--report,
       marked partial; nothing is left running or on disk

A run depends only on the script's bytes, the seed and the harness version: the same three
give the same trace. Every run prints the command that replays it.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="macsim", description="Run a macOS bootstrap script, unmodified, on a simulated Mac.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"macsim {HARNESS_VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run the script on scenarios' Macs, or once on a fresh Mac",
        description="With SCENARIO files or folders: run the script on the Mac each scenario "
                    "describes and check what it expects (exit 0 when all pass, 1 when one fails). "
                    "Without: boot a fresh default Mac (macOS 15, Apple silicon), start the script "
                    "once as root the way an MDM script-job does, and follow every boot until the "
                    "Mac is quiet or a limit is reached, printing a per-boot timeline.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    run.add_argument("scenarios", nargs="*", type=Path, metavar="SCENARIO",
                     help="scenario files (*.toml) or folders of them (see docs/scenarios.md)")
    run.add_argument("--script", type=Path, default=None, metavar="PATH",
                     help=f"the bootstrap to run (default: the built-in {DEFAULT_SCRIPT.name})")
    run.add_argument("--driver", type=Path, default=None, metavar="PATH",
                     help="with scenarios: the M4 enrolment driver MDM runs instead of a scenario's own "
                          "([start] driver); scenarios without a driver are unchanged")
    run.add_argument("--seed", type=int, default=None,
                     help="orders concurrent jobs and launchd's boot order (default: the scenario's, else 0)")
    run.add_argument("--claims", choices=CONTRACTS, default=CONTRACTS[-1],
                     help="with scenarios: what the script claims to be; a scenario that binds more is "
                          "not applicable, and only the invariants of the claim are checked (default: "
                          f"{CONTRACTS[-1]}; the fleet's script before that change claims any)")
    run.add_argument("--junit", type=Path, metavar="FILE", help="with scenarios: write JUnit XML to FILE")
    run.add_argument("--timeline", action="store_true", help="with scenarios: print every run's timeline")
    run.add_argument("--power-loss-at-step", type=int, metavar="K",
                     help="cut the power just before global step K (it comes back); replays a crash "
                          "point found by `macsim explore`")
    run.add_argument("--after-changes", type=int, metavar="N",
                     help="with --power-loss-at-step: cut the power inside that step's command instead, once "
                          "it has made N changes to the disk (a crash point inside a command)")
    run.add_argument("--tear", action="append", default=[], metavar="PATH",
                     help="a file (macOS path) that comes back torn if it was written in the last "
                          "seconds before a power cut (macos-behaviour.md §9b); repeatable")
    run.add_argument("--tear-mode", choices=TEAR_MODES, default="empty",
                     help="how a torn file comes back: empty, or short (its first half); default empty")
    run.add_argument("--json", type=Path, metavar="FILE", help="write a summary as JSON to FILE")
    run.add_argument("--report", type=Path, metavar="DIR",
                     help="write an HTML page per run and an index.html into DIR (absent or empty)")
    run.add_argument("--trace", type=Path, metavar="FILE",
                     help="write the trace (JSON lines) to FILE (default: beside --json or in --keep-disk); "
                          "with scenarios, a new folder for one trace per scenario")
    run.add_argument("--keep-disk", type=Path, metavar="DIR",
                     help="leave the Mac's disk and ownership table in DIR (absent or empty) afterwards")
    run.add_argument("--max-boots", type=int, default=Limits.boots, metavar="N",
                     help="limits of a run without scenarios (a scenario sets its own in [limits])")
    run.add_argument("--max-steps", type=int, default=Limits.steps, metavar="N")
    run.add_argument("--max-simulated-s", type=float, default=Limits.simulated_s, metavar="S")
    run.add_argument("--max-real-s", type=float, default=Limits.real_s, metavar="S")
    run.add_argument("--output-lines", type=int, default=20, metavar="N",
                     help="show the last N lines the started script printed (a failing scenario's, or "
                          "the MDM script-job's of a run without scenarios; default 20)")
    run.add_argument("--quiet", action="store_true", help="print only the verdict line")
    add_safety_options(run)
    explore = commands.add_parser(
        "explore", help="power loss at every distinct state of a scenario's run; every invariant checked",
        description="Run SCENARIO once, and at every distinct persistent state of that run (before a "
                    "step, with a recently written file torn, or inside a command between two of its "
                    "changes to the disk) cut the power, let the Mac boot again and run on to the "
                    "limits, and check every invariant. Each crash run starts from a copy of the run "
                    "at that moment. When the run without a cut already fails, that comes first; the "
                    "failures the cuts add are grouped by invariant and cause, each with the command "
                    "that replays it. Exit 0 when nothing failed, 1 otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="A pull request's check can split the work: run `--shard 1/3`, `--shard 2/3` and `--shard 3/3` "
               "with --json on three runners, then `macsim explore --merge A.json B.json C.json`.")
    explore.add_argument("scenario", type=Path, nargs="?", metavar="SCENARIO")
    explore.add_argument("--script", type=Path, default=None, metavar="PATH",
                         help=f"the bootstrap to explore (default: the built-in {DEFAULT_SCRIPT.name})")
    explore.add_argument("--claims", choices=CONTRACTS, default=CONTRACTS[-1],
                         help=f"what the script claims to be; the invariants of that claim are checked (default: "
                              f"{CONTRACTS[-1]})")
    explore.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                         help="runs in parallel (default: the number of cores)")
    explore.add_argument("--json", type=Path, metavar="FILE", help="write what was found as JSON to FILE")
    explore.add_argument("--report", type=Path, metavar="DIR",
                         help="write an index.html of the failures and a page per failure's crash run into DIR "
                              "(absent or empty)")
    explore.add_argument("--seed", type=int, default=None)
    explore.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                         help="explore the earliest crash points first for this many real seconds, then "
                              "report what was left")
    explore.add_argument("--shard", default=None, metavar="I/N",
                         help="explore every Nth crash point from the Ith (1 <= I <= N): one of N runners")
    explore.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                         help="join the --json reports of the shards of one exploration into one report "
                              "(no SCENARIO then)")
    explore.add_argument("--no-cuts", action="store_true",
                         help="cut the power only between steps, never inside a command")
    add_safety_options(explore, runs=False)
    diff = commands.add_parser(
        "diff", help="what changes on the host between two scripts on one scenario",
        description="Run SCENARIO with the baseline script and with the candidate script (same "
                    "Mac, same seed) and show what differs on the host: puppet invocations "
                    "(arguments, facts, environment), launchd operations, files written, reboots, "
                    "when the semaphore appears. Exit 0 when nothing differs, 1 when something does.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    diff.add_argument("scenario", type=Path, metavar="SCENARIO")
    diff.add_argument("--baseline", type=Path, required=True, metavar="PATH")
    diff.add_argument("--candidate", type=Path, required=True, metavar="PATH")
    diff.add_argument("--seed", type=int, default=None)
    gate_tool.add_command(commands)
    runs_tool.add_command(commands)
    show_tool.add_command(commands)
    collector.add_command(commands)
    fromhost.add_commands(commands)
    conformance_cli.add_commands(commands)
    return parser


def explore_command(args: argparse.Namespace) -> int:
    from .explore import explore, render
    from ..scenarios import ScenarioError, format_error, load_scenario

    not_existing(args.json, "--json")
    report = empty_dir(args.report, "--report") if args.report else None
    if args.merge:
        return _merge_explorations(args, report)
    if args.scenario is None:
        raise UsageError("explore: give a SCENARIO file, e.g. scenarios/test-plan-1-fresh-m4.toml "
                         "(or --merge A.json B.json … to join the reports of shards)")
    script = script_path(args.script)
    shard = _shard(args.shard)
    if args.budget is not None and args.budget < 0:
        raise UsageError(f"--budget {args.budget:g}: expected real seconds, 0 or more")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(format_error(error), file=sys.stderr)
        return EXIT_USAGE
    scenario = capped([scenario], args)[0]
    if not binds(scenario.applies_to, args.claims):
        print(f"{scenario.name}: not applicable: it binds {scenario.applies_to} bootstraps and the script "
              f"claims {args.claims}; nothing explored")
        return EXIT_OK
    try:
        exploration = explore(scenario, script, jobs=args.jobs, seed=args.seed, budget_s=args.budget, shard=shard,
                              cuts=not args.no_cuts, claims=args.claims)
    except Interrupted as stop:
        found = getattr(stop, "exploration", None)
        stop.what = f"the exploration of {scenario.name}"
        if found is not None:
            print(render(found))
            _write_exploration(args.json, report, found)
            stop.what += f": {len(found.runs)} crash run(s) had finished" + (
                ", written marked partial" if args.json or report else "")
        raise
    print(render(exploration))
    _write_exploration(args.json, report, exploration, scenario, script)
    return EXIT_FAILED if exploration.failed else EXIT_OK


def _shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 1, 1
    number, _, count = text.partition("/")
    if not (number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
        raise UsageError(f"--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 2/3 for the second "
                         "of three runners")
    return int(number), int(count)


def _merge_explorations(args: argparse.Namespace, report: Path | None) -> int:
    from .explore import merge_files, render
    if args.scenario is not None or args.shard:
        raise UsageError("--merge joins finished reports: give no SCENARIO and no --shard with it")
    for path in args.merge:
        if not path.is_file():
            raise UsageError(f"--merge {path}: no such file; expected the --json report of a shard "
                             "(macsim explore SCENARIO --shard I/N --json FILE)")
    try:
        merged = merge_files(args.merge)
    except (ValueError, KeyError) as error:
        raise UsageError(f"--merge: {error}") from None
    print(render(merged))
    _write_exploration(args.json, report, merged)
    return EXIT_FAILED if merged.failed else EXIT_OK


def _write_exploration(json_path: Path | None, report: Path | None, exploration, scenario=None,
                       script: Path | None = None) -> None:
    """--json and --report of an exploration. With the scenario and the script at hand, each
    failure's crash run is run again for its page (a merge or an interrupted run has only the
    index)."""
    document = exploration.to_json()
    if json_path:
        json_path.write_text(json.dumps(document, indent=2) + "\n")
    if report is None:
        return
    from .html import write_exploration_index
    pages = {}
    if scenario is not None and script is not None:
        pages = _crash_run_pages(report, exploration, scenario, script)
    print(f"report: {write_exploration_index(report, document, pages)}")


def _crash_run_pages(report: Path, exploration, scenario, script: Path) -> dict[str, str]:
    """The page of each failure's smallest reproduction, by its replay command (failures at one
    crash point share its run)."""
    from ..scenarios.run import run_scenario
    from .suite import run_page
    pages: dict[str, str] = {}
    content = script.read_bytes()
    crash_runs = {failure.replay: failure for failure in exploration.failures}
    for number, failure in enumerate(crash_runs.values(), 1):
        point = failure.point
        print(f"report: crash run {number} of {len(crash_runs)} ({point.describe()})", file=sys.stderr)
        with confine.temporary_folder("macsim-report-") as work:
            run = run_scenario(scenario, content, script.name, work / "mac", seed=exploration.seed,
                               power_loss_at_step=point.step, after_changes=point.changes or None,
                               tears={path: "empty" for path in point.tear}, claims=exploration.claims)
            page = run_page(report, run, script, exploration.seed, name=f"crash-{number}-step-{point.step}",
                            replay=failure.replay)
        if page:
            pages[failure.replay] = page
    return pages


def diff_command(args: argparse.Namespace) -> int:
    from .diff import diff_scripts, render
    from ..scenarios import ScenarioError, format_error, load_scenario

    baseline, candidate = script_path(args.baseline), script_path(args.candidate)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(format_error(error), file=sys.stderr)
        return EXIT_USAGE
    changes, _ = diff_scripts(scenario, baseline, candidate, seed=args.seed)
    print(render(changes, baseline, candidate))
    return EXIT_FAILED if changes else EXIT_OK


def scenarios_command(args: argparse.Namespace) -> int:
    from ..scenarios import ScenarioError, format_error, load_scenarios
    from ..scenarios.schema import with_driver
    from .suite import run_suite

    script = script_path(args.script)
    for option, path in (("--json", args.json), ("--junit", args.junit)):
        not_existing(path, option)
    keep = empty_dir(args.keep_disk, "--keep-disk") if args.keep_disk else None
    report = empty_dir(args.report, "--report") if args.report else None
    try:
        scenarios = load_scenarios(args.scenarios)
    except ScenarioError as error:
        print(format_error(error), file=sys.stderr)
        return EXIT_USAGE
    if args.driver is not None:
        driver = script_path(args.driver, "--driver")
        scenarios = [with_driver(scenario, driver) for scenario in scenarios]
        print(f"driver: {driver} (sha256 {hashlib.sha256(driver.read_bytes()).hexdigest()[:12]}), for the "
              f"{sum(s.start.driver is not None for s in scenarios)} scenario(s) that have one")
    scenarios = capped(scenarios, args)
    if args.power_loss_at_step is not None and len(scenarios) != 1:
        raise UsageError("--power-loss-at-step replays one crash point: give exactly one scenario")
    if args.after_changes is not None and (args.power_loss_at_step is None or args.after_changes < 1):
        raise UsageError(f"--after-changes {args.after_changes}: expected a count of 1 or more, with "
                         "--power-loss-at-step K (the step whose command the power cut interrupts)")
    for path in args.tear:
        if not path.startswith("/"):
            raise UsageError(f"--tear {path}: expected an absolute macOS path such as "
                             "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist")
    run_dir = runs_tool.new_run(args.runs_dir, "run", args.keep_runs)
    traces = args.trace or (args.json.with_suffix(".traces") if args.json else run_dir / "traces")
    empty_dir(traces, "--trace")
    traces.mkdir(parents=True, exist_ok=True)
    runs: list = []
    try:
        run_suite(scenarios, script, seed=args.seed, traces=traces, show_timeline=args.timeline,
                  keep_disks=keep, claims=args.claims, power_loss_at_step=args.power_loss_at_step,
                  tears={path: args.tear_mode for path in args.tear}, output_lines=args.output_lines,
                  macs=run_dir, runs=runs, after_changes=args.after_changes)
    except Interrupted as stop:
        stop.what = f"{len(runs)} of {len(scenarios)} scenario(s) had finished; traces: {traces}"
        partial = bool(args.json or args.junit or report)
        stop.what += "; their results, marked partial, are in the reports" if partial else ""
        _reports(args, runs, script, report, partial=True)
        raise
    print(f"traces: {traces}")
    _reports(args, runs, script, report)
    return EXIT_OK if all(run.verdict in ("pass", "not-applicable") for run in runs) else EXIT_FAILED


def _reports(args: argparse.Namespace, runs: list, script: Path, report: Path | None, *, partial: bool = False) -> None:
    from .suite import write_json, write_junit, write_report
    if args.json:
        write_json(args.json, runs, script, args.seed, args.claims, partial=partial)
    if args.junit:
        write_junit(args.junit, runs, script, args.seed, partial=partial)
    if report:
        print(f"report: {write_report(report, runs, script, args.seed, args.claims, partial=partial)}")


def run_command(args: argparse.Namespace) -> int:
    if args.scenarios:
        return scenarios_command(args)
    if args.driver is not None:
        raise UsageError("--driver replaces the M4 enrolment driver of scenarios: give the scenarios too")
    if args.power_loss_at_step is not None or args.after_changes is not None or args.tear:
        raise UsageError("--power-loss-at-step, --after-changes and --tear replay a crash point of a scenario's "
                         "run (as `macsim explore` prints it): give that SCENARIO too")
    args.seed = args.seed or 0
    script = script_path(args.script)
    keep = empty_dir(args.keep_disk, "--keep-disk") if args.keep_disk else None
    report = empty_dir(args.report, "--report") if args.report else None
    not_existing(args.json, "--json")
    trace_path = args.trace or (args.json.with_suffix(".trace.jsonl") if args.json else None)
    not_existing(trace_path, "--trace")
    run_dir = runs_tool.new_run(args.runs_dir, "run", args.keep_runs)
    workdir = keep or run_dir / "mac"
    if trace_path is None:
        trace_path = (keep or run_dir) / "trace.jsonl"
    content = script.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    limits = Limits(boots=args.max_boots, simulated_s=args.max_simulated_s, steps=args.max_steps,
                    real_s=args.max_real_s, processes=args.max_processes or Limits.processes,
                    memory_mb=args.max_memory_mb or Limits.memory_mb)
    config = MachineConfig(disk_free_mb=args.disk_free_mb or MachineConfig.disk_free_mb)
    started = time.monotonic()
    try:
        machine = Machine(workdir, config=config, seed=args.seed, limits=limits, trace_path=trace_path)
        install_fleet_world(machine)
        machine.start_script(content, name=script.name)
        result = machine.run()
        printed = machine.output()  # before its folder goes
    except Interrupted as stop:
        stop.what = f"the run of {script} (trace so far: {trace_path})"
        raise
    finally:
        if keep:
            keep_on_host(keep)  # the disk outlives this process, as a plain folder
        else:
            remove_tree(workdir)
    wall_s = time.monotonic() - started
    if not args.quiet:
        from .report import timeline
        print(f"macsim {HARNESS_VERSION}: {script} (sha256 {digest[:12]}), seed {args.seed}")
        print(timeline(result.trace.events))
        output = printed.rstrip("\n").splitlines()
        if output:
            shown = output[-args.output_lines:]
            print(f"output of the MDM script-job ({len(shown)} of {len(output)} lines):")
            print("\n".join(f"  | {line}" for line in shown))
    print(f"verdict: {result.verdict.value} — {result.detail} ({result.boots} boots, {result.steps} steps, "
          f"{result.simulated_s:g} s simulated, {wall_s:.2f} s real)")
    print(f"trace: {trace_path}")
    if keep:
        print(f"disk: {keep / 'disk'} (owners and groups in {keep / 'ownership.json'})")
    replay = f"macsim run --script {script} --seed {args.seed}"
    print(f"replay: {replay}")
    status = EXIT_OK if result.verdict in (Verdict.QUIET, Verdict.HALTED) else \
        EXIT_LIMIT if result.verdict.value.startswith("limit") else EXIT_FAILED
    if report:
        from .html import write_run_page
        page = write_run_page(report, name=script.stem, events=result.trace.events,
                              verdict={EXIT_OK: "pass", EXIT_LIMIT: "error"}.get(status, "fail"), violations=[],
                              first_cause=None, script_name=script.name,
                              script_text=content.decode("utf-8", "replace"), replay=replay,
                              summary=f"{result.verdict.value}: {result.detail}", index=None)
        print(f"report: {page}")
    if args.json:
        summary = {"script": {"path": str(script), "sha256": digest}, "seed": args.seed,
                   "harness_version": HARNESS_VERSION, "boots": result.boots, "steps": result.steps,
                   "simulated_s": result.simulated_s, "verdict": result.verdict.value,
                   "detail": result.detail, "trace": str(trace_path), "wall_s": round(wall_s, 3)}
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    # A line per scenario as it ends, also into a pipe (a CI log, `| tee`): progress, not a block at the end.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    # Before anything starts a thread: the Macs' disks are mounted in macsim's own namespace.
    confine.enter()
    interrupts.install()
    try:
        return _dispatch(args)
    except Interrupted as stop:
        runs_tool.sweep_own()
        return interrupts.report(stop, getattr(stop, "what", f"macsim {args.command}"))
    finally:
        interrupts.restore()


def _dispatch(args: argparse.Namespace) -> int:
    try:
        commands = {"conformance": conformance_cli.main, "diff": diff_command, "explore": explore_command,
                    "gate": gate_tool.command, "run": run_command, "show": show_tool.main,
                    "collect": collector.main, "scenario": fromhost.main, "clean": runs_tool.command}
        return commands[args.command](args)
    except UsageError as error:
        print(f"macsim: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SimulatorFault as fault:
        print(f"macsim: internal fault: {fault}\nThis is a bug in macsim, not in the script: please report "
              f"it with the command line that showed it.", file=sys.stderr)
        return EXIT_INTERNAL
    except MacsimError as error:
        print(f"macsim: {error}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
