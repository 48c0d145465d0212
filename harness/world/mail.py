"""Mail from the Mac: every message handed to an SMTP relay is recorded, none is ever sent.

Fakes: the relay that `smtplib.SMTP(relay).send_message(msg)` reaches from the Mac's python3
(how run-puppet.sh mails its reports). The Mac's `python3` is the host's, started through the
shim below with `/.macsim/lib/python` first on PYTHONPATH; its `sitecustomize`
(harness/models/mail-sitecustomize.py) hides that entry again and, when the program imports
smtplib, plays the relay's side of SMTP inside the process. It asks this module two things: does
the relay's name resolve (`macsim-mail connect`), and take this message (`macsim-mail
deliver`). Each message taken is a `mail` event in the trace (relay, port, from, to, subject,
body); nothing leaves the machine.

How it can fail, as the Mac would: while the network is down (after each boot, `[network]`),
a relay's name does not resolve and smtplib raises `socket.gaierror` [Errno 8] "nodename nor
servname provided, or not known"; the Mac itself (localhost, its own host name) runs no mail
server, so a connection there is refused ([Errno 61]). Once the network is up every other name
resolves, like the network model's DNS, and its relay accepts every message up to 10240000
bytes (Postfix's default limit; the sitecustomize enforces it). Not modelled: TLS (STARTTLS is
not offered; SMTP_SSL fails as a refused connection), authentication, other ways to send mail
(`mail`, `sendmail`, `curl smtp://`, a raw socket), and python3 started with -E or -I, which
ignore PYTHONPATH: those fail as before, for want of a network.
"""
from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from ..mac.sandbox import INSIDE
from ..mac.shims.calls import Answer, Call, Commands, Exec, Mac
from ..mac.shims.python import HOST_PYTHON

#: Where the sitecustomize is, inside the Mac (shown there read-only when the relay is installed).
SITE_DIR = f"{INSIDE}/world/mail"
SITECUSTOMIZE = Path(__file__).with_name("mail-sitecustomize.py")
#: The most of a message's body the trace keeps.
MAX_BODY_IN_TRACE = 65536
_MESSAGE_FILE = re.compile(r"mail-\d+-\d+\.eml")
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class MailRelay:
    """The relay of one Mac's world: the messages it took."""

    def __init__(self, mac: Mac) -> None:
        self.mac = mac
        self.taken = 0

    def install(self) -> None:
        self.mac.show_read_only(SITECUSTOMIZE, f"{SITE_DIR}/sitecustomize.py")
        commands = Commands()
        commands.add("python3", python3)
        commands.add("macsim-mail", self._relay)
        self.mac.add_commands(commands)

    def _relay(self, call: Call) -> Answer:
        """`connect HOST PORT` and `deliver FILE HOST PORT SENDER RECIPIENT...`, from the sitecustomize.

        A refusal is answered as `KIND ERRNO MESSAGE` on stdout with status 1, where KIND is the
        exception the sitecustomize raises (gaierror, refused)."""
        verb, *args = call.args or [""]
        if verb == "connect" and len(args) == 2:
            return _connect(call, args[0])
        if verb == "deliver" and len(args) >= 5 and _MESSAGE_FILE.fullmatch(args[0]):
            answer = _deliver(call, args[0], args[1], int(args[2]), args[3], args[4:])
            if answer.status == 0:
                self.taken += 1
                answer.stdout = f"250 2.0.0 Ok: queued as {self.taken:010X}\n"
            return answer
        return Answer(64, "", "usage: macsim-mail connect HOST PORT | deliver FILE HOST PORT SENDER RECIPIENT...\n")


def python3(call: Call) -> Exec:
    """The host's python3, with the sitecustomize first on its path (it takes itself out of
    PYTHONPATH again: the variable the program sees is the one it was given)."""
    env = dict(call.env)
    given = env.get("PYTHONPATH")
    env["PYTHONPATH"] = SITE_DIR if given is None else f"{SITE_DIR}:{given}"
    return Exec(HOST_PYTHON, call.argv, env)


def _connect(call: Call, host: str) -> Answer:
    machine = call.machine
    if host.lower() in (*_LOCAL_NAMES, machine.config.hostname.lower(),
                        machine.config.hostname.split(".")[0].lower()):
        return Answer(1, "refused 61 Connection refused\n")
    if not machine.network.up():
        return Answer(1, "gaierror 8 nodename nor servname provided, or not known\n")
    return Answer(0)


def _deliver(call: Call, name: str, host: str, port: int, sender: str, recipients: list[str]) -> Answer:
    machine = call.machine
    path = machine.shared_dir / name
    try:
        data = path.read_bytes()
    except OSError:
        return Answer(1, "451 4.3.0 Error: queue file write error\n")
    path.unlink()
    message = email.message_from_bytes(data, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    try:
        text = body.get_content() if body is not None else ""
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        text = body.get_payload() if body is not None else ""
    machine.event("mail", pid=call.pid, job=call.job, relay=host, port=port,
                  **{"from": str(message.get("From", sender)),
                     "to": str(message.get("To", ", ".join(recipients)))},
                  recipients=recipients, subject=str(message.get("Subject", "")),
                  body=text[:MAX_BODY_IN_TRACE])
    return Answer(0)
