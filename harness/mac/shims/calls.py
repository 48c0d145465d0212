"""The types a shim handler speaks: the `Call` it gets, what it answers, what it may ask of the Mac.

A shim call arrives as a `Call`. Its handler returns an `Answer` (print this, exit with that),
an `Exec` (the client replaces itself with this command: how `sudo` runs things), or `DEFERRED`
when the answer comes later (`sleep` answers when the clock gets there). Each module of
handlers collects its own in a `Commands` table; which tables a Mac answers is decided in one
place (harness/mac/commands.py for the Mac's own commands; each model of the world adds its
commands when it is installed on a Mac).

`Mac` is what a handler, or a model of the world, may ask of the simulated Mac: nothing else of
the machine is within its reach.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Union

from ..kernel import Kernel

if TYPE_CHECKING:
    from ..launchd import Launchd
    from ..network import Network


@dataclass
class Answer:
    status: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class Exec:
    path: str
    argv: list[str]
    env: dict[str, str]
    stderr: str = ""


class _Deferred:
    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED = _Deferred()
Result = Union[Answer, Exec, _Deferred]


class Mac(Kernel, Protocol):
    """The simulated Mac as its commands and the world around it see it: the kernel's
    services, launchd, the network, and the few things a command can make the Mac do."""

    launchd: "Launchd"
    network: "Network"

    @property
    def shared_dir(self) -> Path:
        """A host folder the Mac's processes see at /.macsim/run (set once the run starts)."""

    def at_boot(self, hook: Callable[[], None]) -> None: ...

    def request_shutdown(self, how: str, *, cause: str, pid: int | None = None) -> None: ...

    def set_user(self, ns_pid: int, user: str) -> None: ...

    def enter_context(self, host_pid: int, job: str) -> None: ...

    def wait_for_outside_work(self) -> None: ...

    def add_commands(self, commands: "Commands") -> None: ...

    def show_read_only(self, host: Path, inside: str) -> None: ...

    def report_at_boot(self, name: str, mac_path: str) -> None: ...


@dataclass
class Call:
    """One invocation of a shimmed command inside the Mac."""

    name: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    pid: int  # as the Mac sees it
    host_pid: int
    user: str
    job: str | None
    machine: Mac
    reply: Callable[[Result], None] = field(repr=False, default=lambda result: None)

    @property
    def args(self) -> list[str]:
        return self.argv[1:]


Handler = Callable[[Call], Result]


class Commands:
    """A table of handlers by command name, filled by a decorator:

        COMMANDS = Commands()

        @COMMANDS.handles("sleep")
        def sleep(call): ...
    """

    def __init__(self, handlers: dict[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})

    def handles(self, *names: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                self._handlers[name] = handler
            return handler
        return register

    def add(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def update(self, other: "Commands") -> None:
        self._handlers.update(other._handlers)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))


def usage(text: str, status: int = 64) -> Answer:
    return Answer(status, "", text if text.endswith("\n") else text + "\n")
