"""Shared fixtures: a fresh simulated Mac per test, and a way to run bash on it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from harness import Limits, Machine, MachineConfig, RunResult
from harness.mac import confine
from harness.world import install_fleet_world


def pytest_configure(config: pytest.Config) -> None:
    # Every Mac's disk is a tmpfs of its size in macsim's own mount namespace, which a process
    # can enter only while it has one thread (harness/mac/confine.py): before any test runs.
    confine.enter()


class MacRun:
    """Builds a Machine in a temporary directory, runs a script on it, keeps both for asserts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.machine: Machine | None = None
        self.result: RunResult | None = None
        self._count = 0

    def new(self, *, seed: int = 0, limits: Limits | None = None,
            config: MachineConfig | None = None) -> Machine:
        self._count += 1
        where = self.directory / f"mac{self._count}"
        self.machine = Machine(where, seed=seed, limits=limits or Limits(real_s=60),
                               config=config or MachineConfig(), trace_path=where.with_suffix(".jsonl"))
        install_fleet_world(self.machine)
        return self.machine

    def run(self, script: str | None = None, *, prepare: Callable[[Machine], None] | None = None,
            **machine_options) -> RunResult:
        machine = self.new(**machine_options)
        if prepare:
            prepare(machine)
        if script is not None:
            machine.start_script(textwrap.dedent(script).lstrip().encode())
        self.result = machine.run()
        return self.result

    def read(self, mac_path: str) -> str:
        return self.machine.disk.host_path(mac_path).read_text()

    def exists(self, mac_path: str) -> bool:
        return self.machine.disk.host_path(mac_path).exists()

    def calls(self, name: str) -> list[dict]:
        return [e.data for e in self.result.trace.calls(name)]

    def kinds(self, *kinds: str) -> list:
        return list(self.result.trace.of_kind(*kinds))


@pytest.fixture
def mac(tmp_path: Path) -> MacRun:
    return MacRun(tmp_path)


def plist_xml(label: str, arguments: list[str], **keys) -> str:
    """A launchd plist with Label, ProgramArguments and any other keys (Python values)."""
    import plistlib
    data = {"Label": label, "ProgramArguments": arguments, **keys}
    return plistlib.dumps(data).decode()


ROOT = Path(__file__).resolve().parent.parent


def macsim(*args: str) -> subprocess.CompletedProcess:
    """The `macsim` command as a user runs it (python -m harness), from the repository root."""
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                            "HOME": str(Path.home())})
