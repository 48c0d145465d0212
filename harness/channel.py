"""The controller's side of a connection from inside the Mac: requests, answers, identity."""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from .bridge import FrameReader, encode
from .shims import Answer, Exec


@dataclass
class Request:
    """A process waiting at a step: a shim call, or a bash command about to run."""

    conn: "Conn"
    kind: str  # "call", "line" (main shell), "step" (subshell)
    ns_pid: int
    fields: list[bytes] = field(default_factory=list)
    line: str = ""
    source: str = ""
    job: str | None = None  # known once granted
    user: str = "root"


class Conn:
    """One client connection from inside the Mac."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = FrameReader()
        self.line_mode = False
        self.line_buffer = b""
        self.ns_pid = 0
        self.identity: tuple[str, str | None] | None = None  # (user, job), once known
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        self.host_pid = struct.unpack("3i", creds)[0]
        self.closed = False

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True


def waiting_in(host_pid: int) -> str:
    """Where a blocked process waits, in the kernel's words (for the `blocked` verdict)."""
    try:
        with open(f"/proc/{host_pid}/wchan") as wchan:
            return wchan.read().strip() or "?"
    except OSError:
        return "gone"


def argv_env(fields: list[bytes]) -> tuple[list[str], dict[str, str]]:
    argc = int(fields[5])
    argv = [f.decode("utf-8", "surrogateescape") for f in fields[6:6 + argc]]
    envc = int(fields[6 + argc])
    env = {}
    for raw in fields[7 + argc:7 + argc + envc]:
        key, _, value = raw.decode("utf-8", "surrogateescape").partition("=")
        env[key] = value
    return argv, env


def describe(result) -> dict:
    if isinstance(result, Answer):
        return {"status": result.status, "stdout": result.stdout[:2000], "stderr": result.stderr[:2000]}
    if isinstance(result, Exec):
        return {"exec": result.argv}
    return {"deferred": True}


def send_result(conn: Conn, result) -> None:
    if isinstance(result, Answer):
        conn.send(encode("exit", result.status, result.stdout, result.stderr))
    elif isinstance(result, Exec):
        env = [f"{k}={v}" for k, v in result.env.items()]
        conn.send(encode("exec", result.stderr, result.path, len(result.argv), *result.argv, len(env), *env))
