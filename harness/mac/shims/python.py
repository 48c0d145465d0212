"""python3: the host's python3 (a macOS host has /usr/bin/python3 with the Command Line Tools).

It runs with the environment it was given. A model of the world may answer python3 itself
instead (the mail relay puts its start-up module on the path: harness/world/mail.py).
"""
from __future__ import annotations

from ..sandbox import INSIDE
from .calls import Call, Commands, Exec

COMMANDS = Commands()
HOST_PYTHON = f"{INSIDE}/host/usr/bin/python3"


@COMMANDS.handles("python3")
def python3(call: Call) -> Exec:
    return Exec(HOST_PYTHON, call.argv, dict(call.env))
