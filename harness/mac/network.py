"""The Mac's network at boot: down after each boot until its time, then up (macos-behaviour.md §13).

A RunAtLoad daemon can run before DHCP and DNS are ready. Here name look-ups (`dscacheutil`,
`scutil -w`, the mail relay's name) fail for `delay_s` simulated seconds after every boot, and
git's https transport finds a flag file in the Mac's shared folder while the network is down.
The sandbox has no real network at all: what lies beyond (GitHub, a mail relay) is the world's
(harness/world/), reached through the file system or the controller.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .clock import Clock

#: The file whose presence in the Mac's shared folder (/.macsim/run) says "the network is down".
DOWN_FLAG = "network-down"


class Network:
    def __init__(self, clock: Clock, event: Callable[..., None], delay_s: float) -> None:
        self._clock = clock
        self._event = event
        self.shared_dir: Path | None = None  # set when the run starts
        self.boot_started_s = 0.0
        self.usual_delay_s = delay_s
        self.delay_s = delay_s

    def booted(self, delay_s: float | None = None) -> None:
        """A boot began: the network is down until its time, `delay_s` from now, or the
        Mac's usual delay (a macOS update may give another one)."""
        self.boot_started_s = self._clock.now_s
        flag = self.shared_dir / DOWN_FLAG
        self.delay_s = delay_s = self.usual_delay_s if delay_s is None else delay_s
        if delay_s <= 0:
            flag.unlink(missing_ok=True)
            return
        flag.touch()
        self._event("network", state="down", until_s=self.up_at_s())
        self._clock.call_later(delay_s, "network up", self._up)

    def _up(self) -> None:
        (self.shared_dir / DOWN_FLAG).unlink(missing_ok=True)
        self._event("network", state="up")

    def up_at_s(self) -> float:
        return self.boot_started_s + self.delay_s

    def up(self) -> bool:
        return self._clock.now_s >= self.up_at_s()

    def seconds_until_up(self) -> float | None:
        return max(self.up_at_s() - self._clock.now_s, 0.0)
