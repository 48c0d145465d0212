"""defaults and systemsetup, read-only: the Mac's settings as a script (or the collector) reads them.

`defaults read DOMAIN [KEY]` reads a property list from the Mac's disk: DOMAIN is a path (with or
without `.plist`, e.g. /Library/Preferences/com.apple.loginwindow, where the autologin user is)
or a bundle id, looked up in the caller's ~/Library/Preferences. Values print as defaults(1)
prints them: a string or number as is, a boolean as 1 or 0, arrays and dictionaries in the
old-style plist notation. A missing domain or key prints defaults' message on stderr and exits 1
(macOS also prints a timestamped `defaults[pid:tid]` line first; left out here, as it holds a pid).
`systemsetup -getremotelogin` says whether Remote Login (sshd) is on. Writing settings is not
simulated.
"""
from __future__ import annotations

import plistlib
from datetime import datetime
from typing import Any

from .calls import Answer, Call, Commands

COMMANDS = Commands()
DEFAULTS_USAGE = ("Command line interface to a user's defaults.\nSyntax:\n\n"
                  "'defaults' [-currentHost | -host <hostname>] followed by one of the following:\n\n"
                  "  read                                 shows all defaults\n"
                  "  read <domain>                        shows defaults for given domain\n"
                  "  read <domain> <key>                  shows defaults for given domain, key\n")
_BARE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")


@COMMANDS.handles("defaults")
def defaults(call: Call) -> Answer:
    args = list(call.args)
    if not args:
        return Answer(255, "", DEFAULTS_USAGE)
    if args[0] != "read" or len(args) not in (2, 3):
        return Answer(127, "", f"not simulated: defaults {' '.join(args)} (only `defaults read DOMAIN [KEY]`)\n")
    domain = args[1]
    data = _domain(call, domain)
    if data is None:
        return Answer(1, "", f"\nDomain {domain} does not exist\n")
    if len(args) == 2:
        return Answer(0, _render(data, 0) + "\n")
    key = args[2]
    if key not in data:
        return Answer(1, "", f"\nThe domain/default pair of ({domain}, {key}) does not exist\n")
    value = data[key]
    return Answer(0, (value if isinstance(value, str) else _render(value, 0)) + "\n")


def _domain(call: Call, domain: str) -> dict | None:
    """The property list a domain names, or None when there is none (or it is not a dictionary)."""
    if domain.startswith("/"):
        candidates = [domain] if domain.endswith(".plist") else [domain + ".plist", domain]
    else:
        account = call.machine.disk.accounts.account(call.user)
        home = account.home if account else "/var/root"
        candidates = [f"{home}/Library/Preferences/{domain}.plist"]
    for path in candidates:
        host = call.machine.inside_path(path, call.cwd)
        if host is not None and host.is_file():
            try:
                data = plistlib.loads(host.read_bytes())
            except (plistlib.InvalidFileException, ValueError):
                return None
            return data if isinstance(data, dict) else None
    return None


def _render(value: Any, depth: int) -> str:
    """A value in the notation `defaults read` prints."""
    pad = "    " * (depth + 1)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value if value and set(value) <= _BARE else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, datetime):
        return f'"{value.strftime("%Y-%m-%d %H:%M:%S +0000")}"'
    if isinstance(value, bytes):
        return "{length = %d, bytes = 0x%s}" % (len(value), value.hex())
    if isinstance(value, list):
        items = ",\n".join(pad + _render(item, depth + 1) for item in value)
        return "(\n" + items + ("\n" if items else "") + "    " * depth + ")"
    if isinstance(value, dict):
        items = "".join(f"{pad}{_render(str(key), depth + 1)} = {_render(item, depth + 1)};\n"
                        for key, item in sorted(value.items()))
        return "{\n" + items + "    " * depth + "}"
    return str(value)


@COMMANDS.handles("systemsetup")
def systemsetup(call: Call) -> Answer:
    if call.args != ["-getremotelogin"]:
        return Answer(127, "", f"not simulated: systemsetup {' '.join(call.args)} (only -getremotelogin)\n")
    if call.user != "root":
        return Answer(1, "You need administrator access to run this tool... exiting!\n")
    return Answer(0, f"Remote Login: {'On' if call.machine.config.remote_login else 'Off'}\n")
