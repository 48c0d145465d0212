"""Secure tokens in the Mac's directory, and `sysadminctl -secureTokenStatus USER` (macos-behaviour.md §15.1).

A user's secure token is an entry `;SecureToken;` of the `authentication_authority` attribute in
its Directory Services record, `/var/db/dslocal/nodes/Default/users/USER.plist` on a real Mac.
The simulator keeps its accounts in /etc/passwd (accounts.py), so that record exists only for a
user who was granted a token (`grant_secure_token`, which MDM's bootstrap-token flow does on an
enrolled host) and holds that attribute alone; it persists across reboots like the real one.

`sysadminctl -secureTokenStatus USER` prints one line on stderr, NSLog style (a timestamp, then
`sysadminctl[PID:TID]`), ending `Secure token is ENABLED for user USER` or `... DISABLED ...`,
and exits 0 either way: scripts pipe `2>&1` into `grep ENABLED`. A user the Mac does not have
is not modelled (what macOS prints then is not in the sources): "not simulated", exit 127.
Every other sysadminctl command is not simulated either.
"""
from __future__ import annotations

import plistlib
from datetime import datetime, timezone

from ..disk import Disk
from .calls import Answer, Call, Commands

COMMANDS = Commands()

RECORDS = "/private/var/db/dslocal/nodes/Default/users"
SECURE_TOKEN = ";SecureToken;"


def record_path(user: str) -> str:
    return f"{RECORDS}/{user}.plist"


def has_secure_token(disk: Disk, user: str) -> bool:
    host = disk.present(record_path(user))
    if host is None:
        return False
    try:
        record = plistlib.loads(host.read_bytes())
    except (OSError, plistlib.InvalidFileException, ValueError):
        return False  # a record a power cut tore carries no token
    return SECURE_TOKEN in record.get("authentication_authority", [])


def grant_secure_token(disk: Disk, user: str) -> None:
    """Gives `user` a secure token: its record gets the `;SecureToken;` authority."""
    record = {"name": [user], "authentication_authority": [SECURE_TOKEN]}
    disk.add_file(record_path(user), plistlib.dumps(record), mode=0o600, atomic=True)


def _nslog_prefix(call: Call) -> str:
    """What NSLog puts before a line: local time with milliseconds (the Mac's zone is UTC here),
    the program, its pid and a thread id (drawn from the seeded stream, so a trace replays)."""
    moment = datetime.fromtimestamp(call.machine.clock.wall_s, tz=timezone.utc)
    thread = call.machine.random("sysadminctl-thread").randrange(100000, 999999)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} sysadminctl[{call.pid}:{thread}]"


@COMMANDS.handles("sysadminctl")
def sysadminctl(call: Call) -> Answer:
    args = call.args
    if len(args) != 2 or args[0] != "-secureTokenStatus":
        return Answer(127, "", f"not simulated: sysadminctl {' '.join(args)} (only -secureTokenStatus USER)\n")
    user = args[1]
    disk = call.machine.disk
    if disk.accounts.account(user) is None:
        call.machine.event("not-simulated", pid=call.pid, job=call.job, name="sysadminctl", argv=call.argv,
                           cwd=call.cwd)
        return Answer(127, "", f"not simulated: sysadminctl -secureTokenStatus for {user}, a user this Mac "
                               "does not have\n")
    state = "ENABLED" if has_secure_token(disk, user) else "DISABLED"
    return Answer(0, "", f"{_nslog_prefix(call)} Secure token is {state} for user {user}\n")
