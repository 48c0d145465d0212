"""`macsim conformance run | bundle | compare`: the command line of the conformance suite.

`add_commands(subparsers)` adds `conformance` to macsim's own subcommands; `main(args)` runs
the parsed command and returns its exit code: 0 as documented (or known), 1 a difference that
is not on the known list (or a probe that did not finish), 2 bad input.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from harness import MachineConfig

from . import bundle as bundle_module
from .compare import KNOWN_DIFFERENCES, KnownDifferences, check_run, compare_runs, contradictions, stale
from .probes import Probe, ProbeError, load_probes
from .results import InputError, Run, load_run
from .simulator import macsim_version, run_suite
from .table import markdown, summary_line, terminal_line

EXIT_OK, EXIT_DIFFERS, EXIT_USAGE = 0, 1, 2

EPILOG = f"""\
exit codes:
  {EXIT_OK}  every probe as documented, or differing only as known_differences.toml lists
  {EXIT_DIFFERS}  a difference not on that list, or a probe that did not finish
  {EXIT_USAGE}  bad input (a missing or malformed file, an unknown probe)

On a Mac:  macsim conformance bundle -o bundle.sh && sudo bash bundle.sh > real.json
Then:      macsim conformance run --like real.json --json sim.json
           macsim conformance compare real.json sim.json --markdown docs/conformance.md
"""


def add_commands(subparsers) -> None:
    """Adds `conformance` (with run, bundle, compare) to an argparse subparsers object."""
    conformance = subparsers.add_parser(
        "conformance", help="run the conformance probes in the simulator, on a real Mac, and compare",
        description="The conformance suite: small bash probes, each checking one macOS behaviour a "
                    "bootstrap relies on, run in the simulator (run), on a real Mac (bundle), and "
                    "compared (compare).",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    add_subcommands(conformance.add_subparsers(dest="conformance_command", metavar="SUBCOMMAND",
                                               required=True))


def add_subcommands(subparsers) -> None:
    """run, bundle and compare, for `macsim conformance` and `python -m harness.tools.conformance`."""
    run = subparsers.add_parser(
        "run", help="run every probe in the simulator and check it against macos-behaviour.md",
        description="Runs each probe on a fresh simulated Mac (as an MDM script-job) and checks its "
                    "observation against the expectation in its header.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    run.add_argument("--json", type=Path, metavar="FILE", help="write the run document to FILE")
    run.add_argument("--markdown", type=Path, metavar="FILE",
                     help="write the conformance table to FILE (docs/conformance.md), with no real-Mac column yet")
    run.add_argument("--like", type=Path, metavar="REAL.json",
                     help="simulate the macOS version, build and kernel of the Mac that wrote REAL.json")
    run.add_argument("--probe", action="append", default=[], metavar="ID",
                     help="run only this probe (repeatable; default: all)")
    run.add_argument("--seed", type=int, default=0, help="the simulator's seed (default 0)")
    run.add_argument("--keep", type=Path, metavar="DIR",
                     help="keep each probe's Mac (disk and trace) under DIR")
    run.add_argument("--known", type=Path, default=KNOWN_DIFFERENCES, metavar="FILE",
                     help="the known differences (default: the checked-in list)")

    bundle = subparsers.add_parser(
        "bundle", help="write the self-contained script that runs the probes on a real Mac as root",
        description="Writes one bash 3.2 script that runs every probe on a Mac as root and prints "
                    "the run document: sudo bash bundle.sh > real.json. Probes that need a reboot "
                    "are reported as skipped.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    bundle.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    bundle.add_argument("--probe", action="append", default=[], metavar="ID",
                        help="only this probe (repeatable; default: all)")

    compare = subparsers.add_parser(
        "compare", help="compare a real Mac's run with the simulator's, probe by probe",
        description="Prints, per probe: agree, differ (with both observations), skipped, or known "
                    "difference (with its reason); exits 1 on a difference that is not known.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    compare.add_argument("real", type=Path, metavar="REAL.json", help="the bundle's output on a real Mac")
    compare.add_argument("simulated", type=Path, metavar="SIM.json",
                         help="`macsim conformance run --json`'s output")
    compare.add_argument("--markdown", type=Path, metavar="FILE", help="write the conformance table to FILE")
    compare.add_argument("--known", type=Path, default=KNOWN_DIFFERENCES, metavar="FILE",
                         help="the known differences (default: the checked-in list)")


def main(args: argparse.Namespace) -> int:
    """Runs the parsed `conformance` subcommand; returns the exit code."""
    commands = {"run": run_command, "bundle": bundle_command, "compare": compare_command}
    try:
        return commands[args.conformance_command](args)
    except (InputError, ProbeError) as error:
        print(f"macsim conformance: {error}", file=sys.stderr)
        return EXIT_USAGE


def _selected(ids: list[str]) -> list[Probe]:
    probes = load_probes()
    if not ids:
        return probes
    known = {p.id for p in probes}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InputError(f"--probe: no probe {', '.join(unknown)}; the probes are: {', '.join(sorted(known))}")
    return [p for p in probes if p.id in ids]


#: What --like needs from the real run's platform, with an example of each.
LIKE_KEYS = {"product_version": (r"\d+(\.\d+){1,2}", "15.5"), "build_version": (r"\d+[A-Z]\d+[a-z]?", "24F74"),
             "kernel_release": (r"\d+(\.\d+){1,2}", "24.5.0")}


def _like(path: Path) -> MachineConfig:
    """The default Mac, on the macOS version, build and kernel of the real run in `path`."""
    platform = load_run(path, side="real").platform
    for key, (pattern, example) in LIKE_KEYS.items():
        value = platform.get(key)
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise InputError(f"{path}: platform.{key}: expected a value like {example!r}, got {value!r}; "
                             f"use a file the bundle wrote on a real Mac")
    return MachineConfig(macos_version=platform["product_version"], build_version=platform["build_version"],
                         kernel_release=platform["kernel_release"])


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as error:
        raise InputError(f"{path}: cannot write ({error.strerror}); give a path in a folder that exists") from None


def run_command(args: argparse.Namespace) -> int:
    probes = _selected(args.probe)
    known = KnownDifferences.load(args.known, load_probes())
    config = _like(args.like) if args.like else MachineConfig()
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        raise InputError(f"--keep {args.keep}: the folder is not empty; give a new or empty folder")
    print(f"macsim conformance: {len(probes)} probe(s) in the simulator (macOS {config.macos_version} "
          f"{config.build_version}, seed {args.seed})", flush=True)
    began = time.monotonic()

    def progress(index: int, probe: Probe, result, seconds: float) -> None:
        verdict = check_run([probe], _one(result), known)[0]
        print(f"[{index}/{len(probes)}] {terminal_line(verdict)} ({seconds:.1f} s)", flush=True)

    run = run_suite(probes, config=config, seed=args.seed, keep=args.keep, progress=progress)
    verdicts = check_run(probes, run, known)
    print(f"{summary_line(verdicts)} in {time.monotonic() - began:.1f} s")
    _print_stale(known, verdicts)
    if args.json:
        _write(args.json, run.to_json())
    if args.markdown:
        _write(args.markdown, markdown(verdicts, simulated=run, known=known.entries))
    return EXIT_DIFFERS if any(v.failing for v in verdicts) else EXIT_OK


def _one(result) -> Run:
    """A Run holding one result, for checking a probe as soon as it has run."""
    return Run("simulator", "", {}, (result,))


def _print_stale(known: KnownDifferences, verdicts) -> None:
    for entry in stale(known, verdicts):
        print(f"note: the known difference for {entry.probe} ({', '.join(entry.fields)}) no longer "
              f"occurs; remove it from {KNOWN_DIFFERENCES.name}")


def bundle_command(args: argparse.Namespace) -> int:
    name = args.output.name if args.output else "conformance-bundle.sh"
    text = bundle_module.render(_selected(args.probe), version=macsim_version(), name=name)
    if args.output:
        _write(args.output, text)
        args.output.chmod(0o755)
        print(f"wrote {args.output}: run it on a Mac as root: sudo bash {args.output} > real.json",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def compare_command(args: argparse.Namespace) -> int:
    probes = load_probes()
    known = KnownDifferences.load(args.known, probes)
    real = load_run(args.real, side="real")
    simulated = load_run(args.simulated, side="simulator")
    comparison = compare_runs(probes, real, simulated, known)
    print(f"macsim conformance: {real.describe_platform()} on {real.date} against the simulator run "
          f"of {simulated.date}")
    for verdict in comparison:
        print(terminal_line(verdict))
    print(summary_line(comparison))
    contradicted = contradictions(probes, real)
    for probe_id, failures in contradicted.items():
        print(f"note: on the real Mac, {probe_id} contradicts its source: "
              + "; ".join(e.describe() for e in failures) + " (check the probe's source)")
    for line in real.leftovers:
        print(f"note: left in the real Mac's override database: {line}")
    if args.markdown:
        checks = check_run(probes, simulated, known)
        _write(args.markdown, markdown(checks, simulated=simulated, known=known.entries, real=real,
                                       comparison=comparison, contradictions=contradicted))
    return EXIT_DIFFERS if any(v.failing for v in comparison) else EXIT_OK
