"""The network as the Mac sees it: down after each boot until its time, then up.

Fakes: DNS (dscacheutil, scutil -w) and reaching GitHub (the flag git's transport reads). Fault model: after every boot, name look-ups fail for
`network_up_after_s` simulated seconds (macos-behaviour.md §13: a RunAtLoad daemon can run
before DHCP and DNS are ready). The sandbox has no real network at all: git reaches its remote
through the file system.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..machine import Machine


class Network:
    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self.boot_started_s = 0.0
        self.delay_s = machine.config.network_up_after_s

    def booted(self, delay_s: float | None = None) -> None:
        """A boot began: the network is down until its time (git's transport reads the flag),
        `delay_s` from now, or the Mac's usual delay (a macOS update may give another one)."""
        self.boot_started_s = self.machine.clock.now_s
        flag = self.machine.runtime.run / "network-down"
        self.delay_s = delay_s = self.machine.config.network_up_after_s if delay_s is None else delay_s
        if delay_s <= 0:
            flag.unlink(missing_ok=True)
            return
        flag.touch()
        self.machine.event("network", state="down", until_s=self.up_at_s())
        self.machine.clock.call_later(delay_s, "network up", self._up)

    def _up(self) -> None:
        (self.machine.runtime.run / "network-down").unlink(missing_ok=True)
        self.machine.event("network", state="up")

    def up_at_s(self) -> float:
        return self.boot_started_s + self.delay_s

    def up(self) -> bool:
        return self.machine.clock.now_s >= self.up_at_s()

    def seconds_until_up(self) -> float | None:
        return max(self.up_at_s() - self.machine.clock.now_s, 0.0)
