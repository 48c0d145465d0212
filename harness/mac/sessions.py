"""How a script starts on the Mac outside launchd: as an MDM script-job, or in an operator's session.

An MDM script-job (mdmclient, a system daemon) runs the script as root from a temporary path,
with no TTY and launchd's minimal environment, and removes the temporary copy when it exits. An
ssh or Bolt session (a session whose name ends in "-session") runs it with root's login
environment and `SSH_CONNECTION` set: a user-session context, which dies with a reboot. What a
session prints is kept beside the machine, one file per session name.
"""
from __future__ import annotations

import shutil

from .kernel import Kernel
from .sandbox import INSIDE

MDM_ENVIRONMENT = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SHELL": "/bin/sh", "USER": "root",
                   "LOGNAME": "root", "HOME": "/var/root", "TMPDIR": "/private/tmp/"}
SSH_ENVIRONMENT = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SHELL": "/bin/zsh", "USER": "root",
                   "LOGNAME": "root", "HOME": "/var/root", "TERM": "xterm-256color",
                   "SSH_CONNECTION": "10.49.56.10 52144 10.49.40.21 22"}


def start_session(mac: Kernel, script: bytes, *, name: str, args: tuple[str, ...], session: str,
                  env: dict[str, str]) -> None:
    """Starts `script` now, as root, in a new session called `session`, with `env` added to the
    session's own environment."""
    token = f"{mac.random(session).randrange(16**8):08x}"
    if session.endswith("-session"):
        folder, environment = f"/private/tmp/bolt-{token}", dict(SSH_ENVIRONMENT)
    else:
        folder, environment = f"/private/tmp/com.apple.mdmclient.script.{token}", dict(MDM_ENVIRONMENT)
    environment.update(env)
    path = f"{folder}/{name}"
    mac.disk.add_file(path, script, mode=0o755)

    def cleanup(_status: int) -> None:
        shutil.rmtree(mac.disk.host_path(folder), ignore_errors=True)

    # mdmclient keeps a script-job's output for the MDM console; here it lands beside the
    # machine, outside the Mac's disk, where the timeline can show it.
    output = f"{INSIDE}/run/{session}.out"
    mac.spawn(["/bin/bash", path, *args], environment, label=None, session=session,
              stdout=output, stderr=output, on_exit=cleanup)
