"""The controller's end of the channel to the Mac: its socket, its connections, what they ask.

Every process of the Mac that needs the controller connects to one Unix socket: a shim call
(`launchctl`, `sleep`, …), a bash starting (the launcher says hello, then the connection carries
the step hook's lines), a subshell's step. The `Switchboard` reads them all, without blocking,
into `Request`s waiting to be granted, in the order they arrived. Frames are parsed once, here,
into named fields (`Frame`); nothing else reads a frame by position. The boot's init reports
on a pipe read through the same selector.
"""
from __future__ import annotations

import selectors
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .bridge import FrameReader, encode
from .shims.calls import Answer, Exec

#: The shortest and longest wait for the Mac's processes when nothing new has arrived.
POLL_MIN_S = 0.001
POLL_MAX_S = 0.02


@dataclass(frozen=True)
class Frame:
    """One request from inside the Mac, as the native client sends it (native/macsim.c):
    kind, the name it was invoked as, cwd, pid and ppid; then argv and the environment
    (a call, a bash hello) or the script line and file (a subshell step)."""

    kind: str  # "call", "bash" (a shell starting), "step"
    name: str
    cwd: str
    ns_pid: int
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    line: str = ""
    source: str = ""

    @classmethod
    def parse(cls, fields: list[bytes]) -> "Frame":
        kind, name, cwd = (f.decode("utf-8", "replace") for f in fields[:3])
        ns_pid = int(fields[3])
        if kind == "step":
            return cls(kind, name, cwd, ns_pid, line=fields[5].decode(),
                       source=fields[6].decode("utf-8", "replace"))
        argc = int(fields[5])
        argv = [f.decode("utf-8", "surrogateescape") for f in fields[6:6 + argc]]
        envc = int(fields[6 + argc])
        env = {}
        for raw in fields[7 + argc:7 + argc + envc]:
            key, _, value = raw.decode("utf-8", "surrogateescape").partition("=")
            env[key] = value
        return cls(kind, name, cwd, ns_pid, argv, env)


@dataclass
class Request:
    """A process waiting at a step: a shim call, or a bash command about to run."""

    conn: "Conn"
    kind: str  # "call", "line" (main shell), "step" (subshell)
    ns_pid: int
    frame: Frame | None = None  # a call's
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

    def answer(self, result) -> None:
        """Sends a shim's result: exit with status and output, or exec another program."""
        if isinstance(result, Answer):
            self.send(encode("exit", result.status, result.stdout, result.stderr))
        elif isinstance(result, Exec):
            env = [f"{k}={v}" for k, v in result.env.items()]
            self.send(encode("exec", result.stderr, result.path, len(result.argv), *result.argv, len(env), *env))

    def go(self, kind: str) -> None:
        """Lets a waiting step run: a newline for the main shell's hook, a frame for a subshell."""
        self.send(b"\n" if kind == "line" else encode("go"))


def waiting_in(host_pid: int) -> str:
    """Where a blocked process waits, in the kernel's words (for the `blocked` verdict)."""
    try:
        with open(f"/proc/{host_pid}/wchan") as wchan:
            return wchan.read().strip() or "?"
    except OSError:
        return "gone"


def describe(result) -> dict:
    """A shim's result as the trace records it."""
    if isinstance(result, Answer):
        return {"status": result.status, "stdout": result.stdout[:2000], "stderr": result.stderr[:2000]}
    if isinstance(result, Exec):
        return {"exec": result.argv}
    return {"deferred": True}


class Switchboard:
    """The socket, the connections, init's pipe, and the requests waiting to be granted."""

    def __init__(self, on_hello: Callable[[Conn, Frame], None], identify: Callable[[Conn], None]) -> None:
        self._on_hello = on_hello  # a bash started: the controller records it (`greet`)
        self._identify = identify  # who it is, looked up while it surely lives
        self._hellos: list[tuple[Conn, Frame]] = []  # not recorded yet
        self._selector = selectors.DefaultSelector()
        self._server: socket.socket | None = None
        self._conns: dict[int, Conn] = {}
        self._init: tuple[int, Callable[[], None]] | None = None
        self.pending: list[Request] = []
        self.activity = 0  # grows with everything read: "did anything arrive?"
        self.poll_s = POLL_MIN_S
        self.idle = False  # the last wait ended with nothing to read
        self._boot = 0  # grows when a boot's connections all go

    def open(self, path: Path) -> None:
        if path.exists():
            path.unlink()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._server.setblocking(False)
        self._selector.register(self._server, selectors.EVENT_READ, "server")

    def detach(self) -> None:
        """Lets go of every socket and of the selector without a word to the kernel objects
        behind them: this is a forked copy of the controller (snapshot.py), and the original
        still uses them (unregistering here would unregister there). `open()` makes new ones."""
        self._selector.close()
        self._selector = selectors.DefaultSelector()
        for conn in self._conns.values():
            conn.closed = True
            conn.sock.close()
        self._conns.clear()
        self.pending.clear()
        self._hellos.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        self._init = None

    def close(self) -> None:
        if self._server is not None:
            self._selector.unregister(self._server)
            self._server.close()
            self._server = None
        self._selector.close()

    def watch_init(self, fd: int, on_ready: Callable[[], None]) -> None:
        self._init = (fd, on_ready)
        self._selector.register(fd, selectors.EVENT_READ, on_ready)

    def unwatch_init(self) -> None:
        if self._init is not None:
            self.unwatch(self._init[0])
            self._init = None

    def watch(self, fd: int, on_ready: Callable[[], None]) -> None:
        """Calls `on_ready()` whenever `fd` has something to read (the boot's seccomp listener)."""
        self._selector.register(fd, selectors.EVENT_READ, on_ready)

    def unwatch(self, fd: int) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def pump(self, timeout_s: float) -> None:
        """Waits up to `timeout_s` for anything from the Mac, and reads all that arrived."""
        ready = self._selector.select(timeout_s)
        self.idle = not ready and timeout_s > 0
        boot = self._boot
        for key, _ in ready:
            if self._boot != boot:
                return  # what was handled ended the boot (a power cut): the rest is gone with it
            self.activity += 1
            what = key.data
            if what == "server":
                self._accept()
            elif isinstance(what, Conn):
                self._read(what)
            else:
                what()

    def greet(self) -> None:
        """Records the shells that started since the last call, by pid. Shells starting at once
        say hello in whatever order the host runs them; the controller records them when it
        next grants a step, when every process is blocked or known, so the trace does not
        depend on that order (nor on whether init's report of the spawn came first)."""
        hellos, self._hellos = sorted(self._hellos, key=lambda hello: hello[1].ns_pid), []
        for conn, frame in hellos:
            self._on_hello(conn, frame)

    def drain_nowait(self) -> bool:
        """Reads whatever already arrived; True if anything did."""
        before = self.activity
        self.pump(0)
        return self.activity != before

    def withdraw_steps(self) -> None:
        """Forgets every shell command waiting to run (shim calls stay): see scheduler.py, 3."""
        self.pending = [request for request in self.pending if request.kind == "call"]

    def drop(self, conn: Conn) -> None:
        # No quiet hint here: a client hangs up as it exits, and its parent is about to run.
        conn.closed = True
        self.pending = [r for r in self.pending if r.conn is not conn]
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        self._conns.pop(conn.sock.fileno(), None)
        conn.sock.close()

    def drop_all(self) -> None:
        self._boot += 1
        for conn in list(self._conns.values()):
            self.drop(conn)
        self._hellos.clear()  # a boot that ended before granting them anything: never recorded

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conn = Conn(sock)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)
            self.poll_s = POLL_MIN_S

    def _read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            return
        self.poll_s = POLL_MIN_S
        if conn.line_mode:
            self._read_lines(conn, data)
            return
        for fields in conn.reader.feed(data):
            self._on_frame(conn, Frame.parse(fields))
        if conn.line_mode:
            leftover = conn.reader.take_rest()
            if leftover:
                self._read_lines(conn, leftover)

    def _read_lines(self, conn: Conn, data: bytes) -> None:
        """The main shell's step hook writes `S LINE FILE` per command."""
        conn.line_buffer += data
        *lines, conn.line_buffer = conn.line_buffer.split(b"\n")
        for raw in lines:
            _, line, source = (raw.decode("utf-8", "replace").split(" ", 2) + ["", ""])[:3]
            self.pending.append(Request(conn, "line", conn.ns_pid, line=line, source=source))

    def _on_frame(self, conn: Conn, frame: Frame) -> None:
        conn.ns_pid = frame.ns_pid
        if frame.kind == "bash":
            self._identify(conn)
            self._hellos.append((conn, frame))
            conn.line_mode = True
            conn.send(encode("ok"))
        elif frame.kind == "step":
            self.pending.append(Request(conn, "step", conn.ns_pid, line=frame.line, source=frame.source))
        else:
            self.pending.append(Request(conn, "call", conn.ns_pid, frame=frame))
