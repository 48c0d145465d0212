"""How a scenario becomes a Mac: its disk, the world around it, how the script starts, its events.

The host's files go on the disk first (the role, the vault, `[[host.files]]`), then the world is
installed (puppet and facter when the host has them, GitHub, the mail relay, the worker), then
the script's start, then every event in time order: each event puts itself on the Mac.
"""
from __future__ import annotations

import plistlib
from dataclasses import dataclass
from pathlib import Path

from .. import fleet
from ..mac.accounts import DEFAULT_ACCOUNTS
from ..mac.disk import Disk
from ..mac.machine import Machine
from ..world import install_fleet_world
from ..world.github import GitHub
from ..world.puppet import Apply, Puppet
from .schema import Scenario, StartHow

#: The session each way of starting the script by hand runs in (and whose exit `script-exited` reads).
SESSIONS = {StartHow.MDM_SCRIPT_JOB: "mdm-script-job", StartHow.SSH: "ssh-session"}
VAULT_CONTENT = "# secrets for puppet (simulated)\nvault: {}\n"


def operator_session(number: int) -> str:
    """The session of the `number`th operator-run event (from 1). Its own name keeps its output
    apart and its exit out of `script-exited`; the "-session" ending makes it a user-session
    context, as for [start] how = "ssh"."""
    return f"operator-{number}-ssh-session"


@dataclass
class Stage:
    """The Mac of one scenario run and the world around it (schema.Stage)."""

    machine: Machine
    github: GitHub
    script: bytes
    script_name: str
    operator_runs: int = 0

    def next_operator_session(self) -> str:
        self.operator_runs += 1
        return operator_session(self.operator_runs)


def build(scenario: Scenario, script: bytes, script_name: str, directory: Path, *,
          seed: int | None = None, trace_path: Path | None = None) -> Stage:
    """The Mac of a scenario, prepared and ready to run."""
    host = scenario.host
    Disk.create(directory / "disk", accounts=DEFAULT_ACCOUNTS + tuple(host.accounts),
                hostname=host.hostname.split(".")[0])
    machine = Machine(directory, config=scenario.machine_config(), seed=scenario.seed if seed is None else seed,
                      limits=scenario.limits, trace_path=trace_path)
    install_fleet_world(machine)
    disk = machine.disk
    if host.role is not None:
        disk.add_file(fleet.ROLE_FILE, host.role + "\n")
    if host.vault:
        disk.add_file(fleet.VAULT, VAULT_CONTENT, mode=0o600)
    for spec in host.files:
        spec.put_on(disk, script)
    if host.puppet_installed:
        applies = tuple(Apply(a.exit_code, a.duration_s, a.output, a.tcc.value) for a in scenario.puppet.applies)
        Puppet(machine, role_model=scenario.puppet.role_model.value, applies=applies, script=script,
               autologin=host.autologin, sip=host.sip).install()
    github = GitHub(machine, directory / "remotes")
    github.install()
    stage = Stage(machine, github, script, script_name)
    _start(stage, scenario)
    for event in scenario.events:
        event.schedule(stage)
    return stage


def _start(stage: Stage, scenario: Scenario) -> None:
    start, machine = scenario.start, stage.machine
    if start.how in SESSIONS:
        machine.start_script(stage.script, name=stage.script_name, args=start.args, at_s=start.at_s,
                             session=SESSIONS[start.how], env=dict(start.env))
    elif start.how is StartHow.DAEMON:
        # As the reboot-survivable change leaves a host: its copy and its plist, loaded at boot.
        machine.disk.add_file(fleet.BOOTSTRAP_COPY, stage.script, mode=0o755)
        machine.disk.add_file(fleet.BOOTSTRAP_PLIST, plistlib.dumps({
            "Label": fleet.BOOTSTRAP_LABEL, "ProgramArguments": ["/bin/bash", fleet.BOOTSTRAP_COPY],
            "RunAtLoad": True, "LaunchOnlyOnce": True,
            "StandardOutPath": fleet.BOOTSTRAP_LOG, "StandardErrorPath": fleet.BOOTSTRAP_LOG,
            "EnvironmentVariables": dict(fleet.BOOTSTRAP_ENVIRONMENT)}))
