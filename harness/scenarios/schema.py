"""Scenario files (`scenarios/*.toml`): their schema as frozen dataclasses (this module), and a
strict loader (`loader.py`, with its value checks in `checks.py`).

A scenario describes one host, how the bootstrap starts on it, what puppet and the world around
it do, and what must hold at the end. The script under test is not part of it: a run depends on
(scenario, script bytes, seed, harness version). docs/scenarios.md documents every key; its
examples are loaded by the tests.

Loading is strict because a scenario that means something other than what its author thinks is
worse than none: the first problem found (an unknown key, a wrong type, a value out of range, a
missing file) is raised as one `ScenarioError` naming the file, the key path, what was expected,
what was found and how to fix it. Tables are checked in the order of docs/scenarios.md, each
table's unknown keys before its values.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import ClassVar, Protocol

from ..errors import BadInput
from ..fleet import CHECKOUT, CONTRACTS, RONIN_REPOSITORY
from ..mac.config import Limits, MachineConfig, Verdict
from ..mac.accounts import Account
from ..mac.disk import Disk
from ..mac.paths import OutsideDisk
from ..mac.machine import Machine
from ..world.broker import SecretsBroker
from ..world.enrolment import Enrolment
from ..world.github import GitHub
from .invariants import INVARIANTS

#: Exit code of the command line for a scenario that does not load (same as other bad input).
EXIT_BAD_INPUT = 2

#: Darwin major version of each macOS major version macsim knows (for `uname -r`).
DARWIN_MAJOR = {11: 20, 12: 21, 13: 22, 14: 23, 15: 24, 26: 25}
#: Invariants a scenario may switch off or expect to fail. Kept in step with the checks in
#: harness/invariants.py, which owns what each one means.
KNOWN_INVARIANTS = tuple(INVARIANTS)
#: Paths macOS empties at every boot, the first one included (disk.EMPTIED_AT_BOOT, by alias).
_WIPED_AT_BOOT = ("/tmp", "/private/tmp", "/var/run", "/private/var/run")


class ScenarioError(BadInput):
    """A scenario file that cannot be run as written: the first problem found in it."""

    def __init__(self, file: Path, key_path: str, expected: str, found: str, fix: str, *,
                 line: int | None = None) -> None:
        self.file, self.key_path, self.line = Path(file), key_path, line
        self.expected, self.found, self.fix = expected, found, fix
        super().__init__(str(self))

    def __reduce__(self):  # so that it crosses process boundaries (pytest-xdist) intact
        return (ScenarioError, (self.file, self.key_path, self.expected, self.found, self.fix),
                {"line": self.line})

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} expected {self.expected}, found {self.found}. Fix: {self.fix}"


def format_error(error: ScenarioError) -> str:
    """The error as the command line prints it: a headline, then one line per part."""
    where = f"{error.file}:{error.line}" if error.line else str(error.file)
    lines = [f"macsim: bad scenario {where}"]
    if error.key_path:
        lines.append(f"  key:      {error.key_path}")
    lines += [f"  expected: {error.expected}", f"  found:    {error.found}", f"  fix:      {error.fix}"]
    return "\n".join(lines)


class StartHow(str, Enum):
    MDM_SCRIPT_JOB = "mdm-script-job"  # run once as root from a temporary path, no TTY
    SSH = "ssh"  # an operator's session (ssh or Bolt): a user-session context
    DAEMON = "daemon"  # already installed as the bootstrap LaunchDaemon before boot 1
    NONE = "none"  # nothing starts it (the host's own mechanisms only)


class RoleModel(str, Enum):
    """The regular mechanism that the role's puppet manifests install (ronin-context.md)."""

    M4 = "m4"  # org.mozilla.worker-runner, written but not loaded
    ATBOOT = "atboot"  # com.mozilla.atboot_puppet
    PERIODIC = "periodic"  # com.mozilla.periodic
    NONE = "none"


class Tcc(str, Enum):
    AUTO = "auto"  # the TCC model decides from the disk and the process's context
    OK = "ok"
    MISSING = "missing"  # prints `unable to open database ".../TCC.db` (file absent)
    DENIED = "denied"  # prints the `authorization denied` line


class EventKind(str, Enum):
    REBOOT = "reboot"
    HALT = "halt"
    POWER_LOSS = "power-loss"
    MACOS_UPDATE = "macos-update"
    DELIVER_FILE = "deliver-file"
    DELIVER_PROFILE = "deliver-profile"
    PUSH_COMMIT = "push-commit"
    OPERATOR_RUN = "operator-run"
    REMOVE_FILES = "remove-files"


class FactKind(str, Enum):
    BOOTSTRAP_DAEMON_INSTALLED = "bootstrap-daemon-installed"
    BOOTSTRAP_DAEMON_NEVER_INSTALLED = "bootstrap-daemon-never-installed"
    BOOTSTRAP_DAEMON_REMOVED = "bootstrap-daemon-removed"
    PUPPET_APPLIED = "puppet-applied"
    PUPPET_ENV = "puppet-env"
    PUPPET_FACT = "puppet-fact"
    SEMAPHORE_WRITTEN = "semaphore-written"
    SEMAPHORE_NEVER_WRITTEN = "semaphore-never-written"
    REBOOTED = "rebooted"
    MAIL_SENT = "mail-sent"
    SCRIPT_EXITED = "script-exited"
    CHECKOUT_CURRENT = "checkout-current"
    FILE_WRITTEN = "file-written"


@dataclass(frozen=True)
class FileSpec:
    """A file put on the Mac's disk: at the start (`[[host.files]]`) or by a deliver-file event."""

    path: str
    content: bytes = b""
    owner: str = "root"
    group: str = "wheel"
    mode: int = 0o644
    #: The content is the script under test (known only when a run starts), as Puppet's class
    #: macos_run_puppet installs it at /usr/local/bin/run-puppet.sh on a managed host.
    script_under_test: bool = False
    directory: bool = False  # a folder with this owner, group and mode, not a file

    def bytes_for(self, script: bytes) -> bytes:
        return script if self.script_under_test else self.content

    def put_on(self, disk: Disk, script: bytes) -> None:
        """Writes the file (or makes the folder) on the Mac's disk, with its owner, group and mode."""
        if self.directory:
            disk.add_dir(self.path, owner=self.owner, group=self.group, mode=self.mode)
        else:
            disk.add_file(self.path, self.bytes_for(script), owner=self.owner, group=self.group, mode=self.mode)


@dataclass(frozen=True)
class Checkout:
    """The puppet checkout already on the disk, as a managed host carries it (a real git
    repository that the fake GitHub agrees with)."""

    path: str = CHECKOUT
    remote: str = "https://github.com/" + RONIN_REPOSITORY + ".git"
    branch: str = "master"
    behind: int = 0  # commits the remote's branch has that the checkout has not fetched
    local_changes: bool = False  # a tracked file changed by hand
    index_lock: bool = False  # a stale .git/index.lock, as a cut during `git reset --hard` leaves


@dataclass(frozen=True)
class Host:
    """The Mac before its first boot. Defaults: MachineConfig's M4 Mac mini on macOS 15."""

    macos_version: str = MachineConfig.macos_version
    build_version: str = MachineConfig.build_version
    kernel_release: str = MachineConfig.kernel_release
    model: str = MachineConfig.model
    arch: str = MachineConfig.arch
    hostname: str = MachineConfig.hostname
    #: The line of /etc/puppet_role (an M4 worker's role, as MDM delivers it); None: no such file.
    role: str | None = "gecko_t_osx_1500_m4"
    autologin: bool = True  # cltbld auto-logs in (its TCC.db appears after that login)
    sip: bool = True
    remote_login: bool = True  # sshd on: ssh to the Mac itself works
    vault: bool = True  # /var/root/vault.yaml present
    puppet_installed: bool = True  # /opt/puppetlabs/bin/puppet and facter present
    files: tuple[FileSpec, ...] = ()
    accounts: tuple[Account, ...] = ()  # beyond disk.DEFAULT_ACCOUNTS
    checkout: Checkout | None = None  # the puppet checkout on the disk before the first boot
    #: MiB free on the disk at the first boot, beyond the host's files (its capacity: confine.py).
    disk_free_mb: int = MachineConfig.disk_free_mb


@dataclass(frozen=True)
class Start:
    """How the bootstrap under test is started."""

    how: StartHow = StartHow.MDM_SCRIPT_JOB
    at_s: float = 0.0  # simulated seconds since the first power-on
    args: tuple[str, ...] = ()
    #: Variables set in the environment it starts in, beyond the session's own (Test Kitchen
    #: exports each custom fact as FACTER_NAME before it runs anything).
    env: tuple[tuple[str, str], ...] = ()
    #: The M4 enrolment driver MDM runs as its script-job instead of the script under test,
    #: which the checkout then serves and puppet installs (None: MDM runs the script itself).
    driver: bytes | None = None
    driver_name: str = ""  # the driver's file name, as MDM's temporary path shows it
    driver_given: Path | None = None  # the driver `--driver PATH` put in place of the scenario's


@dataclass(frozen=True)
class NetworkPlan:
    up_after_s: float = 0.0  # after each boot


@dataclass(frozen=True)
class PuppetApply:
    """What one `puppet apply` does."""

    exit_code: int = 0
    duration_s: float = 60.0
    output: tuple[str, ...] = ()
    tcc: Tcc = Tcc.AUTO
    writes_mb: int = 0  # MiB of a package it downloads first (world/puppet.py DOWNLOADS), and keeps


@dataclass(frozen=True)
class PuppetPlan:
    role_model: RoleModel = RoleModel.M4
    #: One per apply, in order; the last one repeats for every later apply.
    applies: tuple[PuppetApply, ...] = (PuppetApply(exit_code=2), PuppetApply(exit_code=0))


class Stage(Protocol):
    """What a scenario's event is put on: the Mac of one run and the world around it."""

    machine: Machine
    github: GitHub
    script: bytes  # the script under test
    script_name: str

    def next_operator_session(self) -> str:
        """The session of the next operator-run event: its own name keeps its output apart."""


@dataclass(frozen=True)
class Reboot:
    at_s: float
    kind: ClassVar[EventKind] = EventKind.REBOOT

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule(self.at_s, "reboot")


@dataclass(frozen=True)
class Halt:
    at_s: float
    kind: ClassVar[EventKind] = EventKind.HALT

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule(self.at_s, "halt")


@dataclass(frozen=True)
class PowerLoss:
    at_s: float
    restored: bool = True  # False: the Mac stays off (verdict powered-off)
    kind: ClassVar[EventKind] = EventKind.POWER_LOSS

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule(self.at_s, "power-loss" if self.restored else "power-off")


@dataclass(frozen=True)
class MacosUpdate:
    at_s: float
    to_version: str
    to_build: str
    to_kernel_release: str
    reboots: int = 1
    #: What the installer does to the disk, in its first boot: removes these paths (files or
    #: folders), then writes these files.
    removes: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    #: The network's delay in the first boot into the new version; None: as in every boot.
    network_up_after_s: float | None = None
    kind: ClassVar[EventKind] = EventKind.MACOS_UPDATE

    def schedule(self, stage: Stage) -> None:
        install = (lambda: self._install(stage)) if self.removes or self.files else None
        stage.machine.schedule_update(self.at_s, version=self.to_version, build=self.to_build,
                                      kernel_release=self.to_kernel_release, reboots=self.reboots,
                                      install=install, network_up_after_s=self.network_up_after_s)

    def _install(self, stage: Stage) -> None:
        """What the installer does to the disk: removes its paths, then writes its files."""
        disk = stage.machine.disk
        _remove(disk, self.removes)
        for spec in self.files:
            spec.put_on(disk, stage.script)


def _remove(disk: Disk, paths: tuple[str, ...]) -> None:
    """Removes files and folders (with what is in them); a path with nothing there is left alone."""
    for path in paths:
        try:
            host = disk.host_path(path, follow_last=False)
        except OutsideDisk:
            continue  # a link out of the disk: nothing of the Mac's to remove
        if host.is_dir() and not host.is_symlink():
            shutil.rmtree(host)
        elif host.is_symlink() or host.exists():
            host.unlink()


@dataclass(frozen=True)
class RemoveFiles:
    """Someone deletes files or folders by hand (an operator freeing room on a full disk)."""

    at_s: float
    paths: tuple[str, ...]
    kind: ClassVar[EventKind] = EventKind.REMOVE_FILES

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule_action(self.at_s, f"removed by hand: {', '.join(self.paths)}",
                                      lambda: _remove(stage.machine.disk, self.paths))


@dataclass(frozen=True)
class DeliverFile:
    at_s: float
    file: FileSpec
    kind: ClassVar[EventKind] = EventKind.DELIVER_FILE

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule_action(self.at_s, f"MDM delivers {self.file.path}",
                                      lambda: self.file.put_on(stage.machine.disk, stage.script))


@dataclass(frozen=True)
class DeliverProfile:
    at_s: float
    identifier: str
    payload: bytes  # the payload table as XML plist bytes
    kind: ClassVar[EventKind] = EventKind.DELIVER_PROFILE

    def schedule(self, stage: Stage) -> None:
        path = f"/Library/Managed Preferences/{self.identifier}.plist"
        stage.machine.schedule_action(self.at_s, f"MDM installs profile {self.identifier}",
                                      lambda: stage.machine.disk.add_file(path, self.payload))


@dataclass(frozen=True)
class PushCommit:
    at_s: float
    message: str
    branch: str = "master"
    kind: ClassVar[EventKind] = EventKind.PUSH_COMMIT

    def schedule(self, stage: Stage) -> None:
        stage.machine.schedule_action(self.at_s, f"a commit is pushed to {self.branch}",
                                      lambda: stage.github.push_commit(self.message, self.branch))


@dataclass(frozen=True)
class OperatorRun:
    """An operator starts the script under test by hand, in an ssh session of its own."""

    at_s: float
    args: tuple[str, ...] = ()
    kind: ClassVar[EventKind] = EventKind.OPERATOR_RUN

    def schedule(self, stage: Stage) -> None:
        """At `at_s` the operator runs the script over ssh. A Mac that is down then (going down,
        off, or in a macOS installer) cannot take the login: the operator tries again until it
        can, and the run starts as soon as launchd has loaded the daemons of the next boot."""
        machine, session = stage.machine, stage.next_operator_session()
        waiting = False

        def start() -> None:
            machine.start_session(stage.script, name=stage.script_name, args=self.args, session=session)

        def arrive() -> None:
            nonlocal waiting
            if machine.accepts_logins():
                start()
            else:
                waiting = True

        def at_boot() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                start()
        machine.at_boot(at_boot)
        machine.schedule_action(self.at_s, f"an operator runs {stage.script_name} over ssh ({session})", arrive)


ScenarioEvent = (Reboot | Halt | PowerLoss | MacosUpdate | DeliverFile | DeliverProfile | PushCommit
                 | OperatorRun | RemoveFiles)
_EVENT_CLASSES = {cls.kind: cls for cls in ScenarioEvent.__args__}


@dataclass(frozen=True)
class ExpectFile:
    path: str
    present: bool = True
    content: str | None = None
    contains: str | None = None
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    #: A directory in which this user can create entries and remove every entry now in it
    #: (the mode bits for that user, and the sticky bit's rule for entries the user does not own).
    writable_by: str | None = None


@dataclass(frozen=True)
class ExpectLoaded:
    label: str
    loaded: bool = True


@dataclass(frozen=True)
class Fact:
    """A fact about the trace; which fields a kind takes is in docs/scenarios.md."""

    kind: FactKind
    at_boot: int | None = None
    count: int | None = None
    at_least: int | None = None
    at_most: int | None = None
    status: int | None = None
    name: str | None = None
    value: str | None = None
    contains: str | None = None  # mail-sent: only mails whose subject or body has this text
    to: str | None = None  # mail-sent: only mails with this address among the recipients
    mentions_host: bool | None = None  # mail-sent: only mails whose subject or body names the host
    success: bool | None = None  # script-exited: status zero (true) or non-zero (false)
    path: str | None = None  # file-written: the file
    apply: int | None = None  # puppet-env, puppet-fact: only that apply (from 1); None: every one
    branch: str | None = None  # checkout-current: the remote branch to compare with (master)


@dataclass(frozen=True)
class Expect:
    """What must hold at the end of the run; None and empty mean "not checked"."""

    verdict: Verdict | None = None
    boots: int | None = None
    boots_at_most: int | None = None
    files: tuple[ExpectFile, ...] = ()
    loaded: tuple[ExpectLoaded, ...] = ()
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True)
class Invariants:
    off: tuple[tuple[str, str], ...] = ()  # (invariant, reason), in file order
    expect_violation: tuple[str, ...] = ()

    def reason_off(self, name: str) -> str | None:
        """Why the scenario switched invariant `name` off, or None if it is on."""
        return dict(self.off).get(name)


@dataclass(frozen=True)
class Scenario:
    """One scenario file, loaded: everything a run needs besides the script and the harness."""

    path: Path
    name: str
    summary: str
    reproduces: str | None = None
    #: Which scripts it binds (fleet.CONTRACTS): "any" fleet bootstrap, or only those that claim
    #: to be "reboot-survivable".
    applies_to: str = CONTRACTS[0]
    seed: int = 0
    host: Host = Host()
    start: Start = Start()
    network: NetworkPlan = NetworkPlan()
    puppet: PuppetPlan = PuppetPlan()
    events: tuple[ScenarioEvent, ...] = ()
    limits: Limits = Limits()
    expect: Expect = Expect()
    invariants: Invariants = Invariants()
    #: MDM's enrolment and the secrets broker, around a driver (None: the defaults when the
    #: scenario has a driver, else not there at all).
    mdm: Enrolment | None = None
    broker: SecretsBroker | None = None

    def machine_config(self) -> MachineConfig:
        """The Mac this scenario starts with (its MachineConfig)."""
        host = self.host
        return MachineConfig(macos_version=host.macos_version, build_version=host.build_version,
                             kernel_release=host.kernel_release, model=host.model, arch=host.arch,
                             hostname=host.hostname, network_up_after_s=self.network.up_after_s,
                             remote_login=host.remote_login, disk_free_mb=host.disk_free_mb)


def with_driver(scenario: Scenario, path: Path) -> Scenario:
    """The scenario with another M4 enrolment driver (`--driver PATH`), when it has one."""
    if scenario.start.driver is None:
        return scenario
    start = replace(scenario.start, driver=Path(path).read_bytes(), driver_name=Path(path).name,
                    driver_given=Path(path))
    return replace(scenario, start=start)


def darwin_release(macos_version: str) -> str | None:
    """`uname -r` of a macOS version ("15.3.1" -> "24.3.0"), or None for an unknown major.

    Darwin's minor follows macOS's up to 6: the x.7 releases (11.7, ..., 14.7) kept Darwin x.6.
    """
    major, minor = (int(part) for part in macos_version.split(".")[:2])
    return f"{DARWIN_MAJOR[major]}.{min(minor, 6)}.0" if major in DARWIN_MAJOR else None
