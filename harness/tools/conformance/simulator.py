"""Runs the probes on the simulated Mac: one fresh Machine per probe, started as an MDM script-job.

A probe that reboots (header `reboot = true`) gets the boots it needs; its second phase runs
as a LaunchDaemon at the next boot and leaves its line in the file its plist names
(`Probe.result_path`), read from the Mac's disk once the run ends.
"""
from __future__ import annotations

import importlib.metadata
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from harness import Limits, Machine, MachineConfig, Verdict
from harness.mac.confine import remove_tree
from harness.mac.snapshot import keep_on_host

from .probes import Probe
from .results import Result, Run

#: Bounds for one probe: the longest waits 40 simulated seconds; a real second or two is usual.
LIMITS = Limits(boots=1, simulated_s=3600, steps=50_000, real_s=120)
ENDINGS = (Verdict.QUIET, Verdict.HALTED)


def macsim_version() -> str:
    try:
        return importlib.metadata.version("macsim")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def run_probe(probe: Probe, directory: Path, *, config: MachineConfig = MachineConfig(),
              seed: int = 0) -> Result:
    """Runs one probe on a fresh Mac whose disk lives in `directory` (absent or empty)."""
    limits = Limits(boots=3 if probe.reboot else 1, simulated_s=LIMITS.simulated_s, steps=LIMITS.steps,
                    real_s=LIMITS.real_s)
    machine = Machine(directory, config=config, seed=seed, limits=limits,
                      trace_path=directory.with_name(directory.name + ".jsonl"))
    machine.start_script(probe.script().encode(), name=f"{probe.id}.sh")
    try:
        outcome = machine.run()
    except Exception as error:  # noqa: BLE001 (a harness bug one probe finds must not hide the other probes)
        # The Mac's folder is temporary: keep it out of the message, which the table shows.
        message = str(error).replace(str(directory), "<the Mac's folder>")
        return Result(probe.id, "error", "", f"macsim itself failed: {type(error).__name__}: {message}")
    if probe.reboot:
        kept = machine.disk.host_path(probe.result_path)
        printed = kept.read_text(errors="replace") if kept.exists() else ""
    else:
        printed = machine.output()
    lines = [line for line in printed.splitlines() if line.startswith('{"probe": ')]
    if outcome.verdict not in ENDINGS:
        return Result(probe.id, "error", "\n".join(lines),
                      f"the simulated Mac ended {outcome.verdict.value} ({outcome.detail or 'no detail'}) "
                      f"after {outcome.boots} boot(s), {outcome.simulated_s:.0f} simulated s")
    if len(lines) != 1:
        tail = printed.strip().splitlines()[-5:]
        return Result(probe.id, "error", "\n".join(lines),
                      f"expected one observation line, got {len(lines)}; the probe's last output: {tail}")
    return Result(probe.id, "observed", lines[0])


def run_suite(probes: list[Probe], *, config: MachineConfig = MachineConfig(), seed: int = 0,
              keep: Path | None = None,
              progress: Callable[[int, Probe, Result, float], None] | None = None) -> Run:
    """Runs every probe, each on its own fresh Mac; their disks are removed unless `keep`."""
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix=f"macsim-conformance-{os.getpid()}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for index, probe in enumerate(probes, 1):
            began = time.monotonic()
            result = run_probe(probe, workdir / probe.id, config=config, seed=seed)
            results.append(result)
            if progress:
                progress(index, probe, result, time.monotonic() - began)
    finally:
        if keep is None:
            remove_tree(workdir)
        else:
            keep_on_host(workdir)  # the disks outlive this process
    platform = {"product_version": config.macos_version, "build_version": config.build_version,
                "kernel_release": config.kernel_release, "arch": config.arch,
                "runner": f"macsim {macsim_version()}", "seed": seed}
    return Run("simulator", started, platform, tuple(results))
