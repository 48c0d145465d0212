"""Python's start-up inside the simulated Mac: smtplib reaches macsim's controller, not a relay.

macsim copies this file to /.macsim/lib/python/sitecustomize.py; the Mac's python3 shim
(harness/models/mail.py) puts that folder first on PYTHONPATH. This module first takes the
folder out of PYTHONPATH and sys.path again, so that the program and what it starts see the
environment they were given. Then, when the program imports smtplib, smtplib.SMTP's connection
becomes an in-process relay: it asks the controller whether the relay's name resolves (raising
what the Mac's resolver would raise when it does not), speaks the relay's side of SMTP to
smtplib, and hands each message to the controller, which records it and sends nothing.

It runs on the host's python3 inside the Mac, never in the harness: keep it to the standard
library, and cheap at start-up (smtplib is only loaded by programs that import it).
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_CLIENT = "/.macsim/bin/macsim"  # the shim client; started as "macsim-mail", it asks the mail model
_RUN = "/.macsim/run"  # the controller's folder, where a message waits for it
_MAX_MESSAGE_BYTES = 10240000  # the relay's limit (Postfix's default message_size_limit)
_messages = [0]  # how many this process has handed over (names their files)


def _hide():
    """Takes this folder out of PYTHONPATH and sys.path: the program sees what it was given."""
    value = os.environ.get("PYTHONPATH")
    if value == _HERE:
        del os.environ["PYTHONPATH"]
    elif value is not None and value.startswith(_HERE + os.pathsep):
        os.environ["PYTHONPATH"] = value[len(_HERE) + 1:]
    if _HERE not in sys.path:
        return
    at = sys.path.index(_HERE)
    del sys.path[at]
    if value == _HERE + os.pathsep and sys.path[at:at + 1] == [os.getcwd()]:
        del sys.path[at]  # what Python made of the empty PYTHONPATH after ours: the program had none


def _ask(*args):
    """One question to the mail model: (status, its answer's first line)."""
    import subprocess
    done = subprocess.run(["macsim-mail", *args], executable=_CLIENT, env={}, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return done.returncode, done.stdout.decode("utf-8", "replace").strip()


def _refuse(answer):
    """The exception a refusal (`KIND ERRNO MESSAGE`) stands for."""
    import socket
    kind, number, message = (answer.split(" ", 2) + ["0", answer])[:3]
    error = socket.gaierror if kind == "gaierror" else ConnectionRefusedError
    return error(int(number) if number.isdigit() else 0, message)


class _Relay:
    """The socket smtplib talks to: an SMTP relay's side of the conversation, in this process."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self._replies = bytearray()
        self._input = bytearray()
        self._closed = False
        self._reset()
        self._reply("220 %s ESMTP" % host)

    def _reset(self):
        self._sender, self._recipients, self._data, self._size = None, [], None, 0

    def _reply(self, *lines):
        for index, line in enumerate(lines):
            code, _, text = line.partition(" ")
            joint = "-" if index < len(lines) - 1 else " "
            self._replies += ("%s%s%s\r\n" % (code, joint, text)).encode("utf-8")

    # the socket, as smtplib uses it

    def sendall(self, data):
        if self._closed:
            raise OSError(9, "Bad file descriptor")
        self._input += data
        while True:
            end = self._input.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self._input[:end])
            del self._input[:end + 2]
            self._line(line)

    def makefile(self, mode="rb"):
        return _Replies(self._replies)

    def close(self):
        self._closed = True

    # the relay

    def _line(self, line):
        if self._data is not None:
            if line == b".":
                self._deliver()
            else:
                self._size += len(line) + 2
                if self._size <= _MAX_MESSAGE_BYTES:
                    self._data.append(line[1:] if line.startswith(b".") else line)
            return
        verb, _, argument = line.decode("utf-8", "surrogateescape").partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self._reply("250 " + self.host, "250 SIZE %d" % _MAX_MESSAGE_BYTES, "250 8BITMIME",
                        "250 SMTPUTF8")
        elif verb == "HELO":
            self._reply("250 " + self.host)
        elif verb == "MAIL" and argument.upper().startswith("FROM:"):
            self._mail(argument[5:])
        elif verb == "RCPT" and argument.upper().startswith("TO:"):
            if self._sender is None:
                self._reply("503 5.5.1 Error: need MAIL command")
            else:
                self._recipients.append(_address(argument[3:]))
                self._reply("250 2.1.5 Ok")
        elif verb == "DATA":
            if not self._recipients:
                self._reply("503 5.5.1 Error: need RCPT command")
            else:
                self._data = []
                self._reply("354 End data with <CR><LF>.<CR><LF>")
        elif verb in ("RSET", "NOOP"):
            if verb == "RSET":
                self._reset()
            self._reply("250 2.0.0 Ok")
        elif verb == "QUIT":
            self._reply("221 2.0.0 Bye")
        else:
            self._reply("502 5.5.2 Error: command not recognized")

    def _mail(self, argument):
        for parameter in argument.split()[1:]:
            name, _, value = parameter.partition("=")
            if name.upper() == "SIZE" and value.isdigit() and int(value) > _MAX_MESSAGE_BYTES:
                self._reply("552 5.3.4 Message size exceeds fixed limit")
                return
        self._reset()
        self._sender = _address(argument)
        self._reply("250 2.1.0 Ok")

    def _deliver(self):
        data, sender, recipients, size = self._data, self._sender, self._recipients, self._size
        self._reset()
        if size > _MAX_MESSAGE_BYTES:
            self._reply("552 5.3.4 Message size exceeds fixed limit")
            return
        _messages[0] += 1
        name = "mail-%d-%d.eml" % (os.getpid(), _messages[0])
        with open(os.path.join(_RUN, name), "xb") as message:
            message.write(b"".join(line + b"\n" for line in data))  # stored as an MTA stores it
        status, answer = _ask("deliver", name, self.host, str(self.port), sender, *recipients)
        self._reply(answer if status == 0 and answer[:3].isdigit() else "451 4.3.0 Error: queue file write error")


class _Replies:
    """What smtplib reads the relay's replies from (`sock.makefile("rb")`)."""

    def __init__(self, replies):
        self._replies = replies

    def readline(self, limit=-1):
        end = self._replies.find(b"\n")
        size = len(self._replies) if end < 0 else end + 1
        if 0 <= limit < size:
            size = limit
        line = bytes(self._replies[:size])
        del self._replies[:size]
        return line

    def close(self):
        pass


def _address(text):
    """The address of `<addr> PARAMETERS` (or of a bare address)."""
    text = text.strip()
    if text.startswith("<"):
        return text[1:text.find(">")] if ">" in text else text[1:]
    return text.split()[0] if text else ""


def _patch(smtplib):
    def get_socket(self, host, port, timeout):
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if self.debuglevel > 0:
            self._print_debug("connect: to", (host, port), self.source_address)
        status, answer = _ask("connect", host, str(port))
        if status != 0:
            raise _refuse(answer)
        return _Relay(host, port)

    def get_tls_socket(self, host, port, timeout):
        status, answer = _ask("connect", host, str(port))
        raise _refuse(answer if status != 0 else "refused 61 Connection refused")

    smtplib.SMTP._get_socket = get_socket
    if hasattr(smtplib, "SMTP_SSL"):  # only where Python has ssl
        smtplib.SMTP_SSL._get_socket = get_tls_socket


class _SmtplibFinder:
    """Finds nothing itself: it patches smtplib the first time smtplib is loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "smtplib":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _patch(module)
        spec.loader.exec_module = exec_module
        return spec


_hide()
sys.meta_path.insert(0, _SmtplibFinder())
