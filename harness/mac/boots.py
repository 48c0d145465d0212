"""Boots, shutdowns, power cuts and macOS updates of one Mac (macos-behaviour.md §8, §9, §9b).

A boot empties /tmp and /var/run, starts a new sandbox (a new pid namespace with its init),
brings the network up after its delay, and lets launchd load the daemons; the hooks of the
world around the Mac run after that (a TCC database appearing, a session starting). A shutdown
(`shutdown -r now`, a scheduled reboot) lets every process reach its next step, then SIGTERMs
them all and SIGKILLs what is left after the grace period; everything written is flushed. A
power cut kills everything at once and may tear files written in the last seconds. A macOS
update restarts into installer boots that run Apple's code only, then into the new version.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .changes import FileChanges, Holder
from .channel import Switchboard
from .clock import Clock
from .config import MachineConfig, Verdict
from .cuts import Change, CutsUnavailable, Supervisor, listener_of
from .disk import Disk
from .identity import Identity
from .init import Init
from .launchd import Launchd
from .network import Network
from .paths import canonical
from .processes import Boot
from .sandbox import Runtime
from .unflushed import Unflushed, check_mode, tear

#: How long one installer boot of a macOS update lasts (simulated).
INSTALLER_BOOT_S = 600


@dataclass
class Update:
    """A macOS update, from MDM's push to the first boot into the new version."""

    config: MachineConfig  # the Mac on the new version
    boots_left: int  # restarts still to come, the one into the new version included
    install: Callable[[], None] | None = None  # what the installer does to the disk (once)
    network_up_after_s: float | None = None  # the network's delay in the first new boot


class Boots:
    """The boot cycle: which boot the Mac is in, and how it ends."""

    def __init__(self, *, config: MachineConfig, max_boots: int, disk: Disk, clock: Clock,
                 launchd: Launchd, network: Network, init: Init, identity: Identity,
                 switchboard: Switchboard, changes: FileChanges, event: Callable[..., None],
                 finish: Callable[[Verdict, str], None], finished: Callable[[], bool],
                 holder: Callable[[], Holder | None], forget_boot: Callable[[], None]) -> None:
        self.config = config
        self._max_boots = max_boots
        self._disk, self._clock, self._launchd, self._network = disk, clock, launchd, network
        self._init, self._identity, self._switchboard, self._changes = init, identity, switchboard, changes
        self._event, self._finish, self._finished = event, finish, finished
        self._holder, self._forget_boot = holder, forget_boot
        self.count = 0
        self.boot: Boot | None = None
        self.going_down: str | None = None  # "reboot" or "halt", once requested
        self.teardown_started = False
        self.update: Update | None = None  # a macOS update in progress
        self.last_loaded: list[str] = []  # launchd's labels when the last boot ended
        self.hooks: list[Callable[[], None]] = []
        self.unflushed = Unflushed()
        self.tears: dict[str, str] = {}  # mac path -> how it comes back if a power cut tears it
        #: Paths whose presence each boot event reports, by name (the fleet's semaphore, say).
        self.reported: dict[str, str] = {}
        self._sandbox: tuple[str, Runtime, tuple[tuple[Path, str], ...]] | None = None
        self._preexec: Callable[[], None] | None = None
        self._on_change: Callable[[Change, int, int], str | None] | None = None  # cuts.py, when asked
        self._step: Callable[[], int] = lambda: 0
        self.supervisor: Supervisor | None = None

    def prepare(self, bwrap: str, runtime: Runtime, ro_binds: tuple[tuple[Path, str], ...],
                preexec: Callable[[], None] | None = None) -> None:
        """How each boot's sandbox starts; `preexec` puts it under the Mac's bounds (bounds.py)."""
        self._sandbox = (bwrap, runtime, ro_binds)
        self._preexec = preexec

    def stop_changes(self, on_change: Callable[[Change, int, int], str | None], step: Callable[[], int]) -> None:
        """From the next boot on, every change a process makes to the disk waits for
        `on_change(change, step, changes before it in the step)` (cuts.py)."""
        self._on_change, self._step = on_change, step

    def _supervise(self) -> None:
        fd = listener_of(self.boot.init_host_pid, self._init.listener_fd) if self._init.listener_fd >= 0 else None
        if fd is None:
            raise CutsUnavailable("cuts inside commands need seccomp user notification and pidfd_getfd "
                                  "(Linux 5.6 or later, seccomp allowed in the sandbox); this host refuses them")
        self.supervisor = Supervisor(fd, step=self._step, on_change=self._on_change)
        self._switchboard.watch(fd, self.supervisor.handle)

    # -- starting a boot --

    def start(self) -> None:
        if self.count >= self._max_boots:
            self._finish(Verdict.LIMIT_BOOTS, f"the Mac would boot again (boot {self.count + 1}; "
                                              f"the limit is {self._max_boots})")
            return
        self.count += 1
        if self.count > 1:
            self._clock.skip(self.config.boot_duration_s)
        removed = [p for folder in ("/private/tmp", "/private/var/run") for p in self._disk.empty_dir(folder)]
        self._event("boot", removed_at_boot=len(removed), **self._disk_facts())
        self.going_down = None
        self.teardown_started = False
        self._identity.forget_boot()
        self._forget_boot()
        bwrap, runtime, ro_binds = self._sandbox
        self.boot = Boot(bwrap, self._disk.root, runtime, ro_binds, cuts=self._on_change is not None,
                         preexec=self._preexec)
        self._init.attach(self.boot)
        self._switchboard.watch_init(self.boot.events_fd, self._init.read_events)
        self._changes.watch(self._disk.root)
        self._init.await_ready()
        if self._on_change is not None:
            self._supervise()
        if self.update is not None:
            self._installer_boot()
            return
        self._network.booted()
        self._launchd.boot()
        for hook in self.hooks:
            hook()

    def _disk_facts(self) -> dict:
        """What is on disk at a boot that the invariants need: the daemons, the labels disabled
        in launchd's override database, and whether each reported path exists."""
        daemons = self._disk.present("/Library/LaunchDaemons")
        return {"daemons": sorted(os.listdir(daemons)) if daemons else [],
                "disabled": sorted(label for label, off in self._launchd.overrides.table().items() if off),
                **{name: self._disk.present(path) is not None for name, path in self.reported.items()}}

    def _installer_boot(self) -> None:
        """A boot of the macOS installer: only Apple's code runs, then it restarts. The last
        one is the first boot into the new version."""
        update = self.update
        update.boots_left -= 1
        if update.boots_left > 0:
            self._event("installer-boot", boots_left=update.boots_left)
        if update.install is not None:
            install, update.install = update.install, None
            install()
            self._changes.drain(self._holder())
        if update.boots_left == 0:
            self.update = None
            self.config = update.config
            self._network.booted(update.network_up_after_s)
            self._event("macos-updated", version=update.config.macos_version,
                        build=update.config.build_version)
            self._launchd.boot()
            for hook in self.hooks:
                hook()
            return
        self._network.booted()
        self._clock.call_later(INSTALLER_BOOT_S, "installer restarts",
                               lambda: self.request_shutdown("reboot", cause="macOS installer"))

    def begin_update(self, *, version: str, build: str, kernel_release: str, reboots: int,
                     install: Callable[[], None] | None, network_up_after_s: float | None) -> None:
        self.update = Update(replace(self.config, macos_version=version, build_version=build,
                                     kernel_release=kernel_release), reboots, install, network_up_after_s)
        self.request_shutdown("reboot", cause=f"macOS update to {version}")

    def accepts_logins(self) -> bool:
        """True while an operator can log in: the Mac is up in macOS, not going down, and not
        in a macOS update's installer."""
        return self.boot is not None and self.going_down is None and self.update is None

    # -- ending a boot --

    def end(self) -> None:
        if self.boot is None:
            return
        self.last_loaded = sorted(self._launchd.jobs)
        self._launchd.forget_boot()
        # Kill first: a process whose connection closes while it is still alive would take
        # the missing answer as a go-ahead.
        self.boot.power_off()
        if self.supervisor is not None:
            self._switchboard.unwatch(self.supervisor.fd)
            self.supervisor.close()
            self.supervisor = None
        self._switchboard.drop_all()
        self._switchboard.unwatch_init()
        self._changes.stop(self._holder())
        self._init.detach()
        self.boot = None
        self._clock.cancel_scope("boot")

    def request_shutdown(self, how: str, *, cause: str, pid: int | None = None) -> None:
        """launchd begins a shutdown ("reboot" or "halt") after the current step."""
        if self.going_down is None:
            self.going_down = how
            holder = self._holder()
            self._event("shutdown", pid=pid, job=holder.job if holder else None, how=how, cause=cause)

    def power_loss(self, cause: str) -> None:
        """The power goes and comes back."""
        self._event("power-loss", cause=cause)
        self.end()
        self._tear_unflushed()
        if not self._finished():
            self.start()

    def power_off(self) -> None:
        """The power is cut and does not come back."""
        self._event("power-loss", cause="scheduled, not restored")
        self.end()
        self._tear_unflushed()

    def tear_at_power_loss(self, mac_path: str, mode: str) -> None:
        self.tears[canonical(mac_path)] = check_mode(mode)

    def _tear_unflushed(self) -> None:
        """Data not yet on disk when the power went: the files asked for that are recent enough."""
        for path in self.unflushed.recent(self._clock.now_s, self.config.unflushed_s):
            mode = self.tears.get(path)
            if mode is not None and (size := tear(self._disk.host_path(path), mode)) is not None:
                self._event("torn", path=path, mode=mode, size=size,
                            written_at_s=self.unflushed.written_at[path])
        self.unflushed.flush()

    def teardown(self) -> None:
        """SIGTERM to every process, SIGKILL after the grace period (§8.3)."""
        self.teardown_started = True
        self._launchd.stop_all()
        self._init.signal_all(signal.SIGTERM)
        self._clock.call_later(self.config.shutdown_grace_s, "shutdown SIGKILL", self.finish_shutdown,
                               scope="boot")

    def finish_shutdown(self) -> None:
        how = self.going_down
        self.end()
        self.unflushed.flush()  # a graceful shutdown writes everything out
        if how == "halt":
            self._finish(Verdict.HALTED, "the Mac was shut down without restart")
        elif not self._finished():
            self.start()
