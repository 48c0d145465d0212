"""The `macsim` command line."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..errors import MacsimError, SimulatorFault
from ..fleet import CONTRACTS
from ..mac.config import HARNESS_VERSION, Limits, Verdict
from ..mac.machine import Machine
from ..mac.unflushed import TEAR_MODES
from ..scenarios import DEFAULT_SCRIPT
from ..world import install_fleet_world
from . import gate as gate_tool
from . import show as show_tool
from .conformance import cli as conformance_cli
from .options import UsageError, empty_dir, not_existing, script_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERNAL = 0, 1, 2, 3, 70

EPILOG = f"""\
exit codes:
  {EXIT_OK}   the Mac ended quiet (nothing running, nothing scheduled) or was halted
  {EXIT_FAILED}   the Mac ended blocked: processes alive, all waiting for something that never comes
  {EXIT_USAGE}   bad input (a missing script, a directory that is not empty, a bad option)
  {EXIT_LIMIT}   a limit was reached (boots, simulated time, steps or real seconds)
  {EXIT_INTERNAL}  macsim itself failed (no bubblewrap, no C compiler, the sandbox did not start)

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
    explore = commands.add_parser(
        "explore", help="power loss before every step of a scenario; every invariant checked",
        description="Run SCENARIO once to list its steps, then, for every distinct persistent state, "
                    "cut the power just before that step, let the Mac boot again and run on to the "
                    "limits, and check every invariant. Distinct failures are grouped by invariant "
                    "and script line, each with the command that replays it. Exit 0 when nothing "
                    "failed, 1 otherwise.", formatter_class=argparse.RawDescriptionHelpFormatter)
    explore.add_argument("scenario", type=Path, metavar="SCENARIO")
    explore.add_argument("--script", type=Path, default=None, metavar="PATH")
    explore.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                         help="runs in parallel (default: the number of cores)")
    explore.add_argument("--json", type=Path, metavar="FILE")
    explore.add_argument("--seed", type=int, default=None)
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
    show_tool.add_command(commands)
    conformance_cli.add_commands(commands)
    return parser


def explore_command(args: argparse.Namespace) -> int:
    from .explore import explore, render
    from ..scenarios import ScenarioError, format_error, load_scenario

    script = script_path(args.script)
    not_existing(args.json, "--json")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(format_error(error), file=sys.stderr)
        return EXIT_USAGE
    exploration = explore(scenario, script, jobs=args.jobs, seed=args.seed)
    print(render(exploration))
    if args.json:
        args.json.write_text(json.dumps(exploration.to_json(), indent=2) + "\n")
    return EXIT_FAILED if exploration.failures else EXIT_OK


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
    from .suite import run_suite, write_json, write_junit, write_report

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
    traces = args.trace or (args.json.with_suffix(".traces") if args.json else
                            Path(tempfile.mkdtemp(prefix="macsim-traces-")))
    empty_dir(traces, "--trace")
    traces.mkdir(parents=True, exist_ok=True)
    if args.power_loss_at_step is not None and len(scenarios) != 1:
        raise UsageError("--power-loss-at-step replays one crash point: give exactly one scenario")
    for path in args.tear:
        if not path.startswith("/"):
            raise UsageError(f"--tear {path}: expected an absolute macOS path such as "
                             "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist")
    runs = run_suite(scenarios, script, seed=args.seed, traces=traces, show_timeline=args.timeline,
                     keep_disks=keep, claims=args.claims, power_loss_at_step=args.power_loss_at_step,
                     tears={path: args.tear_mode for path in args.tear}, output_lines=args.output_lines)
    print(f"traces: {traces}")
    if args.json:
        write_json(args.json, runs, script, args.seed, args.claims)
    if args.junit:
        write_junit(args.junit, runs, script, args.seed)
    if report:
        print(f"report: {write_report(report, runs, script, args.seed, args.claims)}")
    return EXIT_OK if all(run.verdict in ("pass", "not-applicable") for run in runs) else EXIT_FAILED


def run_command(args: argparse.Namespace) -> int:
    if args.scenarios:
        return scenarios_command(args)
    args.seed = args.seed or 0
    script = script_path(args.script)
    keep = empty_dir(args.keep_disk, "--keep-disk") if args.keep_disk else None
    report = empty_dir(args.report, "--report") if args.report else None
    not_existing(args.json, "--json")
    trace_path = args.trace or (args.json.with_suffix(".trace.jsonl") if args.json else None)
    not_existing(trace_path, "--trace")
    workdir = keep or Path(tempfile.mkdtemp(prefix="macsim-run-"))
    if trace_path is None:
        trace_path = workdir / "trace.jsonl"
    content = script.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    limits = Limits(boots=args.max_boots, simulated_s=args.max_simulated_s, steps=args.max_steps,
                    real_s=args.max_real_s)
    started = time.monotonic()
    machine = Machine(workdir, seed=args.seed, limits=limits, trace_path=trace_path)
    install_fleet_world(machine)
    machine.start_script(content, name=script.name)
    result = machine.run()
    wall_s = time.monotonic() - started
    if not args.quiet:
        from .report import timeline
        print(f"macsim {HARNESS_VERSION}: {script} (sha256 {digest[:12]}), seed {args.seed}")
        print(timeline(result.trace.events))
        output = machine.output().rstrip("\n").splitlines()
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
    if not keep:
        shutil.rmtree(workdir / "disk", ignore_errors=True)
        (workdir / "ownership.json").unlink(missing_ok=True)
        (workdir / "mdm-script-job.out").unlink(missing_ok=True)
        if trace_path.parent != workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        commands = {"conformance": conformance_cli.main, "diff": diff_command, "explore": explore_command,
                    "gate": gate_tool.command, "run": run_command, "show": show_tool.main}
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
