"""How a scenario becomes a Mac: its disk, the world around it, how the script starts, its events.

The host's files go on the disk first (the role, the vault, `[[host.files]]`), then the world is
installed (puppet and facter when the host has them, GitHub, the mail relay, the worker; MDM's
enrolment and the secrets broker around an M4 enrolment driver), then the start (the script, or
the driver that brings it), then every event in time order: each event puts itself on the Mac.
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
from ..world.broker import SecretsBroker
from ..world.enrolment import Enrolment, admin_account
from ..world.github import GitHub
from ..world.puppet import Apply, Puppet
from .schema import Scenario, StartHow

#: The session each way of starting the script by hand runs in (and whose exit `script-exited` reads).
SESSIONS = {StartHow.MDM_SCRIPT_JOB: "mdm-script-job", StartHow.SSH: "ssh-session"}
VAULT_CONTENT = "# secrets for puppet (simulated)\nvault: {}\n"
#: /etc/kcpassword holds the autologin password, XOR-obfuscated; here twelve bytes of nothing.
KCPASSWORD_CONTENT = bytes(12)


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
    accounts = DEFAULT_ACCOUNTS + tuple(host.accounts)
    if enrolled(scenario) and all(account.name != fleet.SECURE_TOKEN_USER for account in accounts):
        accounts += (admin_account({account.uid for account in accounts}),)
    Disk.create(directory / "disk", accounts=accounts, hostname=host.hostname.split(".")[0])
    machine = Machine(directory, config=scenario.machine_config(), seed=scenario.seed if seed is None else seed,
                      limits=scenario.limits, trace_path=trace_path)
    install_fleet_world(machine)
    disk = machine.disk
    if host.role is not None:
        disk.add_file(fleet.ROLE_FILE, host.role + "\n")
    if host.vault:
        disk.add_file(fleet.VAULT, VAULT_CONTENT, mode=0o600)
    if host.autologin:  # as MDM's autologin profile leaves it (the puppet model reads host.autologin)
        disk.add_file(fleet.LOGINWINDOW, plistlib.dumps({"autoLoginUser": fleet.AUTOLOGIN_USER}))
        disk.add_file(fleet.KCPASSWORD, KCPASSWORD_CONTENT, mode=0o600)
    for spec in host.files:
        spec.put_on(disk, script)
    if host.puppet_installed:
        applies = tuple(Apply(a.exit_code, a.duration_s, a.output, a.tcc.value, a.writes_mb)
                        for a in scenario.puppet.applies)
        Puppet(machine, role_model=scenario.puppet.role_model.value, applies=applies, script=script,
               autologin=host.autologin, sip=host.sip).install()
    github = GitHub(machine, directory / "remotes", script)
    github.install()
    if host.checkout is not None:
        spec = host.checkout
        github.place_checkout(spec.path, remote=spec.remote, branch=spec.branch, behind=spec.behind,
                              local_changes=spec.local_changes, index_lock=spec.index_lock)
    stage = Stage(machine, github, script, script_name)
    if enrolled(scenario):
        _enrol(machine, scenario)
    _start(stage, scenario)
    for event in scenario.events:
        event.schedule(stage)
    return stage


def enrolled(scenario: Scenario) -> bool:
    """Whether the host is enrolled the way the M4 driver expects (a driver, [mdm] or [broker])."""
    return scenario.start.driver is not None or scenario.mdm is not None or scenario.broker is not None


def _enrol(machine: Machine, scenario: Scenario) -> None:
    """MDM's enrolment (the secure token, the SCEP certificate) and the secrets broker. What MDM
    has delivered by the first power-on is on the disk then; the rest comes at its time."""
    enrolment = scenario.mdm or Enrolment()
    for at_s, label, deliver in enrolment.deliveries(machine):
        if at_s == 0:
            deliver()
        else:
            machine.schedule_action(at_s, label, deliver)
    role = scenario.host.role
    (scenario.broker or SecretsBroker((role,) if role else ())).install(machine)


def _start(stage: Stage, scenario: Scenario) -> None:
    start, machine = scenario.start, stage.machine
    if start.driver is not None:
        # On an M4 the script-job is the enrolment driver; the script under test reaches the
        # host through the checkout the driver clones, and puppet's role then installs it.
        machine.start_script(start.driver, name=start.driver_name, args=start.args, at_s=start.at_s,
                             session=SESSIONS[start.how], env=dict(start.env))
    elif start.how in SESSIONS:
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
