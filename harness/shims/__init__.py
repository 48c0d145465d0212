"""The macOS commands the controller answers, and the types their handlers speak.

A shim call arrives as a `Call`. Its handler returns an `Answer` (print this, exit with that),
an `Exec` (the client replaces itself with this command: how `sudo` runs things), or `DEFERRED`
when the answer comes later (`sleep` answers when the clock gets there). Handlers register
themselves with `@handles(...)`; importing this package loads all of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Union

if TYPE_CHECKING:
    from ..machine import Machine


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
    machine: "Machine"
    reply: Callable[[Result], None] = field(repr=False, default=lambda result: None)

    @property
    def args(self) -> list[str]:
        return self.argv[1:]


Handler = Callable[[Call], Result]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = handler
        return handler
    return register


def usage(text: str, status: int = 64) -> Answer:
    return Answer(status, "", text if text.endswith("\n") else text + "\n")


from . import files, power, ssh, sudo, system  # noqa: E402,F401  (registration side effects)
from .. import launchctl  # noqa: E402,F401
from ..models import puppet, worker  # noqa: E402,F401
