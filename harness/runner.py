"""Runs a scenario against a script: builds the Mac it describes, runs it, checks what it expects.

A scenario's verdict is "pass" when every expectation holds, "fail" when one does not (each
failed expectation is a violation naming what was expected, what happened, and the boot and
step where the trace shows it), and "error" when the run could not be judged (a limit was hit
that the scenario did not expect).
"""
from __future__ import annotations

import hashlib
import plistlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import invariants
from .disk import DEFAULT_ACCOUNTS, Disk, OutsideDisk
from .invariants import BOOTSTRAP_COPY, BOOTSTRAP_LABEL, BOOTSTRAP_PLIST, SEMAPHORE, Violation
from .machine import Machine, RunResult
from .models.git import GitHub
from .models.puppet import Apply, Puppet
from .scenario import (DeliverFile, DeliverProfile, Fact, FactKind, Halt, MacosUpdate, OperatorRun,
                       PowerLoss, PushCommit, Reboot, Scenario, StartHow)
from .trace import Event

#: The bootstrap a run uses when none is given: our own (README, issue "The bootstrap under test").
DEFAULT_SCRIPT = Path(__file__).resolve().parent.parent / "src" / "run-puppet.sh"
SESSIONS = {StartHow.MDM_SCRIPT_JOB: "mdm-script-job", StartHow.SSH: "ssh-session"}


def operator_session(number: int) -> str:
    """The session of the `number`th operator-run event (from 1). Its own name keeps its output
    apart and its exit out of `script-exited`; the "-session" ending makes it a user-session
    context, as for [start] how = "ssh"."""
    return f"operator-{number}-ssh-session"


@dataclass
class ScenarioRun:
    scenario: Scenario
    verdict: str  # pass | fail | error
    violations: list[Violation] = field(default_factory=list)
    result: RunResult | None = None
    machine: Machine | None = None
    trace_path: Path | None = None


def build_machine(scenario: Scenario, script: bytes, script_name: str, directory: Path, *,
                  seed: int | None = None, trace_path: Path | None = None) -> Machine:
    """The Mac of a scenario, prepared and ready to run."""
    host = scenario.host
    Disk.create(directory / "disk", accounts=DEFAULT_ACCOUNTS + tuple(host.accounts),
                hostname=host.hostname.split(".")[0])
    machine = Machine(directory, config=scenario.machine_config(), seed=scenario.seed if seed is None else seed,
                      limits=scenario.limits, trace_path=trace_path)
    disk = machine.disk
    if host.role is not None:
        disk.add_file("/etc/puppet_role", host.role + "\n")
    if host.vault:
        disk.add_file("/var/root/vault.yaml", "# secrets for puppet (simulated)\nvault: {}\n", mode=0o600)
    for spec in host.files:
        disk.add_file(spec.path, spec.bytes_for(script), owner=spec.owner, group=spec.group, mode=spec.mode)
    if host.puppet_installed:
        applies = tuple(Apply(a.exit_code, a.duration_s, a.output, a.tcc.value) for a in scenario.puppet.applies)
        Puppet(machine, role_model=scenario.puppet.role_model.value, applies=applies, script=script,
               autologin=host.autologin, sip=host.sip).install()
    github = GitHub(machine, directory / "remotes")
    github.install()
    _start(machine, scenario, script, script_name)
    operator_runs = 0
    for event in scenario.events:
        if isinstance(event, OperatorRun):
            operator_runs += 1
            _operator_run(machine, event, script, script_name, operator_session(operator_runs))
        else:
            _schedule(machine, event, github, script)
    return machine


def _start(machine: Machine, scenario: Scenario, script: bytes, name: str) -> None:
    start = scenario.start
    if start.how in SESSIONS:
        machine.start_script(script, name=name, args=start.args, at_s=start.at_s,
                             session=SESSIONS[start.how])
    elif start.how is StartHow.DAEMON:
        # As the reboot-survivable change leaves a host: its copy and its plist, loaded at boot.
        machine.disk.add_file(BOOTSTRAP_COPY, script, mode=0o755)
        machine.disk.add_file(BOOTSTRAP_PLIST, plistlib.dumps({
            "Label": BOOTSTRAP_LABEL, "ProgramArguments": ["/bin/bash", BOOTSTRAP_COPY],
            "RunAtLoad": True, "LaunchOnlyOnce": True,
            "StandardOutPath": "/var/log/ronin-puppet-bootstrap.log",
            "StandardErrorPath": "/var/log/ronin-puppet-bootstrap.log",
            "EnvironmentVariables": {"LANG": "en_US.UTF-8",
                                     "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin"}}))


def _schedule(machine: Machine, event, github: GitHub, script: bytes) -> None:
    if isinstance(event, Reboot):
        machine.schedule(event.at_s, "reboot")
    elif isinstance(event, Halt):
        machine.schedule(event.at_s, "halt")
    elif isinstance(event, PowerLoss):
        machine.schedule(event.at_s, "power-loss" if event.restored else "power-off")
    elif isinstance(event, MacosUpdate):
        machine.schedule_update(event.at_s, version=event.to_version, build=event.to_build,
                                kernel_release=event.to_kernel_release, reboots=event.reboots,
                                install=_installer(machine, event, script),
                                network_up_after_s=event.network_up_after_s)
    elif isinstance(event, DeliverFile):
        spec = event.file
        machine.schedule_action(event.at_s, f"MDM delivers {spec.path}", lambda: machine.disk.add_file(
            spec.path, spec.bytes_for(script), owner=spec.owner, group=spec.group, mode=spec.mode))
    elif isinstance(event, DeliverProfile):
        path = f"/Library/Managed Preferences/{event.identifier}.plist"
        machine.schedule_action(event.at_s, f"MDM installs profile {event.identifier}",
                                lambda: machine.disk.add_file(path, event.payload))
    elif isinstance(event, PushCommit):
        machine.schedule_action(event.at_s, f"a commit is pushed to {event.branch}",
                                lambda: github.push_commit(event.message, event.branch))


def _installer(machine: Machine, update: MacosUpdate, script: bytes) -> Callable[[], None] | None:
    """What a macOS update does to the disk: removes its paths, then writes its files."""
    if not update.removes and not update.files:
        return None

    def install() -> None:
        for path in update.removes:
            try:
                host = machine.disk.host_path(path, follow_last=False)
            except OutsideDisk:
                continue  # a link out of the disk: nothing of the Mac's to remove
            if host.is_dir() and not host.is_symlink():
                shutil.rmtree(host)
            elif host.is_symlink() or host.exists():
                host.unlink()
        for spec in update.files:
            machine.disk.add_file(spec.path, spec.bytes_for(script), owner=spec.owner, group=spec.group,
                                  mode=spec.mode)
    return install


def _operator_run(machine: Machine, event: OperatorRun, script: bytes, name: str, session: str) -> None:
    """At `event.at_s` an operator runs the script over ssh. A Mac that is down then (going
    down, off, or in a macOS installer) cannot take the login: the operator tries again until
    it can, and the run starts as soon as launchd has loaded the daemons of the next boot."""
    waiting = False

    def start() -> None:
        machine.start_session(script, name=name, args=event.args, session=session)

    def arrive() -> None:
        nonlocal waiting
        if machine.accepts_logins():
            start()
        else:
            waiting = True

    def at_boot(_machine: Machine) -> None:
        nonlocal waiting
        if waiting:
            waiting = False
            start()
    machine.at_boot(at_boot)
    machine.schedule_action(event.at_s, f"an operator runs {name} over ssh ({session})", arrive)


def run_scenario(scenario: Scenario, script: bytes, script_name: str, directory: Path, *,
                 seed: int | None = None, trace_path: Path | None = None,
                 power_loss_at_step: int | None = None, tears: dict[str, str] | None = None) -> ScenarioRun:
    """Runs `script` on the scenario's Mac in `directory` (absent or empty) and judges it.

    With `power_loss_at_step`, the power is cut just before that step (and comes back): the
    scenario's own expectations describe a run without that fault, so only the invariants are
    checked then. `tears` (mac path -> "empty" or "short") are the files a power cut tears if
    they were written just before it (Machine.tear_at_power_loss)."""
    machine = build_machine(scenario, script, script_name, directory, seed=seed, trace_path=trace_path)
    if power_loss_at_step is not None:
        machine.power_loss_at_step(power_loss_at_step)
    for path, mode in (tears or {}).items():
        machine.tear_at_power_loss(path, mode)
    result = machine.run()
    run = ScenarioRun(scenario, "pass", result=result, machine=machine, trace_path=trace_path)
    expectations = check_expectations(scenario, machine, result) if power_loss_at_step is None else []
    run.violations = expectations + check_invariants(scenario, result)
    if run.violations:
        # "error": a limit the scenario did not expect ended the run and nothing else was found,
        # so the run could not be judged. A run that hit a limit and broke an expectation or an
        # invariant on the way (a reboot loop, say) was judged: it failed.
        expected = scenario.expect.verdict
        limit_hit = result.verdict.value.startswith("limit") and expected != result.verdict
        only_the_verdict = all(v.message.startswith("verdict:") for v in run.violations)
        run.verdict = "error" if limit_hit and only_the_verdict else "fail"
    return run


def check_invariants(scenario: Scenario, result: RunResult) -> list[Violation]:
    """The invariants not switched off; an invariant the scenario expects to fail must fail."""
    rules = scenario.invariants
    found = invariants.check(result.trace.events, off=[name for name, _ in rules.off])
    expected = set(rules.expect_violation)
    unexpected = [v for v in found if v.invariant not in expected]
    for name in sorted(expected - {v.invariant for v in found}):
        unexpected.append(Violation(name, f"expected {name} to be violated (the field failure this scenario "
                                          "reproduces), but it held", result.boots))
    return unexpected


# -- expectations -----------------------------------------------------------------------------

def check_expectations(scenario: Scenario, machine: Machine, result: RunResult) -> list[Violation]:
    expect, events = scenario.expect, result.trace.events
    found: list[Violation] = []
    last_boot = result.boots
    if expect.verdict is not None and result.verdict != expect.verdict:
        found.append(Violation("expect", f"verdict: expected {expect.verdict.value}, got "
                                         f"{result.verdict.value} ({result.detail})", last_boot))
    if expect.boots is not None and result.boots != expect.boots:
        found.append(Violation("expect", f"boots: expected {expect.boots}, got {result.boots}", last_boot))
    if expect.boots_at_most is not None and result.boots > expect.boots_at_most:
        found.append(Violation("expect", f"boots: expected at most {expect.boots_at_most}, got {result.boots}",
                               last_boot))
    for want in expect.files:
        found += _check_file(machine, want, last_boot)
    for want in expect.loaded:
        loaded = want.label in machine.last_loaded
        if loaded != want.loaded:
            found.append(Violation("expect", f"{want.label}: expected {'loaded' if want.loaded else 'not loaded'} "
                                             f"in launchd at the end, it was {'' if loaded else 'not '}loaded",
                                   last_boot))
    for fact in expect.facts:
        message = _check_fact(fact, events, machine, result)
        if message:
            found.append(Violation("expect", f"{fact.kind.value}: {message}", last_boot))
    return found


def _check_file(machine: Machine, want, boot: int) -> list[Violation]:
    host = machine.disk.host_path(want.path)
    present = host.exists()
    if present != want.present:
        return [Violation("expect", f"{want.path}: expected {'present' if want.present else 'absent'}, "
                                    f"it is {'present' if present else 'absent'}", boot)]
    if not present:
        return []
    problems = []
    text = host.read_bytes().decode("utf-8", "replace") if host.is_file() else ""
    if want.content is not None and text != want.content:
        problems.append(f"content: expected {want.content!r}, found {text[:200]!r}")
    if want.contains is not None and want.contains not in text:
        problems.append(f"expected to contain {want.contains!r}, found {text[:200]!r}")
    if want.mode is not None and host.stat().st_mode & 0o7777 != want.mode:
        problems.append(f"mode: expected {want.mode:04o}, found {host.stat().st_mode & 0o7777:04o}")
    owner, group = machine.disk.owner(want.path)
    if want.owner is not None and owner != want.owner:
        problems.append(f"owner: expected {want.owner}, found {owner}")
    if want.group is not None and group != want.group:
        problems.append(f"group: expected {want.group}, found {group}")
    return [Violation("expect", f"{want.path}: {p}", boot) for p in problems]


def _file_events(events: list[Event], path: str, changes: tuple[str, ...]) -> list[Event]:
    return [e for e in events if e.kind == "file" and e.data["path"] == path and e.data["change"] in changes]


def _count(fact: Fact, n: int, what: str) -> str | None:
    if fact.count is not None and n != fact.count:
        return f"expected {fact.count} {what}, found {n}"
    if fact.at_least is not None and n < fact.at_least:
        return f"expected at least {fact.at_least} {what}, found {n}"
    if fact.at_most is not None and n > fact.at_most:
        return f"expected at most {fact.at_most} {what}, found {n}"
    if fact.count is None and fact.at_least is None and fact.at_most is None and n < 1:
        return f"expected at least one {what}, found none"
    return None


def _in_boot(events: list[Event], fact: Fact) -> list[Event]:
    return [e for e in events if fact.at_boot is None or e.boot == fact.at_boot]


def _check_fact(fact: Fact, events: list[Event], machine: Machine, result: RunResult) -> str | None:
    kind = fact.kind
    where = f" in boot {fact.at_boot}" if fact.at_boot is not None else ""
    written = ("created", "moved-here", "renamed", "written")
    if kind is FactKind.BOOTSTRAP_DAEMON_INSTALLED:
        return None if _in_boot(_file_events(events, BOOTSTRAP_PLIST, written), fact) else f"its plist was not written{where}"
    if kind is FactKind.BOOTSTRAP_DAEMON_NEVER_INSTALLED:
        hits = _file_events(events, BOOTSTRAP_PLIST, written)
        return f"its plist was written in boot {hits[0].boot}" if hits else None
    if kind is FactKind.BOOTSTRAP_DAEMON_REMOVED:
        removed = _in_boot(_file_events(events, BOOTSTRAP_PLIST, ("removed", "moved-away"))
                      + [e for e in events if e.kind == "file" and e.data.get("from") == BOOTSTRAP_PLIST], fact)
        left = [p for p in (BOOTSTRAP_PLIST, BOOTSTRAP_COPY) if machine.disk.host_path(p).exists()]
        if not removed:
            return f"its plist was not removed{where}"
        return f"still on disk at the end: {', '.join(left)}" if left else None
    if kind is FactKind.PUPPET_APPLIED:
        return _count(fact, len(_in_boot([e for e in events if e.kind == "puppet-apply"], fact)),
                      f"puppet applies{where}")
    if kind in (FactKind.PUPPET_ENV, FactKind.PUPPET_FACT):
        key = fact.name if kind is FactKind.PUPPET_ENV else f"FACTER_{fact.name}"
        applies = [e for e in events if e.kind == "puppet-apply"]
        if not applies:
            return "puppet never applied"
        wrong = [e for e in applies if e.data["env"].get(key) != fact.value]
        if wrong:
            seen = wrong[0].data["env"].get(key)
            return f"apply {wrong[0].data['number']} (boot {wrong[0].boot}) had {key}={seen!r}, expected {fact.value!r}"
        return None
    if kind is FactKind.SEMAPHORE_WRITTEN:
        hits = _in_boot(_file_events(events, SEMAPHORE, written), fact)
        return None if hits else f"/var/tmp/semaphore/run-buildbot was not written{where}"
    if kind is FactKind.SEMAPHORE_NEVER_WRITTEN:
        hits = _file_events(events, SEMAPHORE, written)
        return f"it was written in boot {hits[0].boot}" if hits else None
    if kind is FactKind.REBOOTED:
        asked = [e for e in events if e.kind == "shutdown" and e.data["how"] == "reboot"
                 and not e.data["cause"].startswith("scheduled")]
        return _count(fact, len(asked), "reboots on request")
    if kind is FactKind.SCRIPT_EXITED:
        exits = [e for e in events if e.kind == "process-exit" and e.job in SESSIONS.values()]
        if not exits:
            return "the script never exited (it was killed by a reboot or is still running)"
        status = exits[-1].data.get("status")
        return None if status == fact.status else f"expected status {fact.status}, got {status or exits[-1].data}"
    if kind is FactKind.MAIL_SENT:
        mails = [e for e in _in_boot([e for e in events if e.kind == "mail"], fact)
                 if fact.contains is None or fact.contains in e.data["subject"] or fact.contains in e.data["body"]]
        with_text = f" with {fact.contains!r} in the subject or body" if fact.contains is not None else ""
        return _count(fact, len(mails), f"mails{with_text}{where}")
    if kind is FactKind.CHECKOUT_CURRENT:
        github = machine.models["github"]
        return github.checkout_is_current(branch=fact.branch or "master")
    return f"not modelled yet: macsim cannot tell whether {kind.value} holds"


def script_identity(path: Path) -> dict:
    content = path.read_bytes()
    return {"path": str(path), "sha256": hashlib.sha256(content).hexdigest()}

