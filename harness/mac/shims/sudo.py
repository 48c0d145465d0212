"""sudo: records the call, then the client execs the command as the target user.

Model of the fleet's sudoers: no password for anyone (a machine parameter turns that off);
`env_reset` keeps PATH and TERM from the caller and sets HOME, USER, LOGNAME, SHELL, MAIL and
the SUDO_* variables for the target user. The target user is kept in the controller's process
table (inside the namespace every process is uid 0), so `id`, `whoami`, file ownership and
launchd see it.
"""
from __future__ import annotations

from .calls import Answer, Call, Commands, Exec

COMMANDS = Commands()

SUDO_USAGE = """usage: sudo -h | -K | -k | -V
usage: sudo -v [-ABkNnS] [-g group] [-h host] [-p prompt] [-u user]
usage: sudo -l [-ABkNnS] [-g group] [-h host] [-p prompt] [-U user] [-u user] [command [arg ...]]
usage: sudo [-ABbEHkNnPS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-R directory] [-T timeout] [-u user] [VAR=value] [-i | -s] [command [arg ...]]
"""
_WITH_VALUE = set("CDghpRTuU")
_FLAGS = set("ABbEHkNnPSis")


@COMMANDS.handles("sudo")
def sudo(call: Call):
    args = list(call.args)
    target, keep_env, login_shell = "root", False, False
    while args and args[0].startswith("-"):
        arg = args.pop(0)
        if arg == "--":
            break
        letter, rest = arg[1:2], arg[2:]
        if letter in _WITH_VALUE:
            value = rest or (args.pop(0) if args else "")
            if letter == "u":
                target = value
        elif all(ch in _FLAGS for ch in arg[1:]):
            keep_env = keep_env or "E" in arg
            login_shell = login_shell or "i" in arg or "s" in arg
        else:
            return Answer(1, "", f"sudo: invalid option -- '{letter}'\n{SUDO_USAGE}")
    disk = call.machine.disk
    account = disk.accounts.account(int(target[1:]) if target.startswith("#") else target)
    if account is None:
        return Answer(1, "", f"sudo: unknown user {target}\n")
    if call.user != "root" and not call.machine.config.sudo_nopasswd:
        return Answer(1, "", "sudo: a terminal is required to read the password; either use the -S "
                             "option to read from standard input or configure an askpass helper\n"
                             "sudo: a password is required\n")
    if login_shell and not args:
        args = [account.shell]
    if not args:
        return Answer(1, "", SUDO_USAGE)
    path = _find(call, args[0])
    if path is None:
        return Answer(1, "", f"sudo: {args[0]}: command not found\n")
    env = dict(call.env) if keep_env else {k: v for k, v in call.env.items() if k in ("PATH", "TERM", "DISPLAY")}
    caller = disk.accounts.account(call.user)
    env.update(HOME=account.home, USER=account.name, LOGNAME=account.name, SHELL=account.shell,
               MAIL=f"/var/mail/{account.name}", SUDO_USER=call.user,
               SUDO_UID=str(caller.uid if caller else 0), SUDO_GID=str(caller.gid if caller else 0),
               SUDO_COMMAND=" ".join([path, *args[1:]]))
    env.setdefault("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
    call.machine.set_user(call.pid, account.name)
    return Exec(path, args, env)


def _find(call: Call, command: str) -> str | None:
    """The command's path inside the Mac, looked up on the caller's PATH like sudo does."""
    if "/" in command:
        path = command if command.startswith("/") else f"{call.cwd.rstrip('/')}/{command}"
        return path if call.machine.inside_path(path) is not None else None
    for directory in call.env.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin").split(":"):
        if directory.startswith("/") and call.machine.inside_path(f"{directory}/{command}") is not None:
            return f"{directory}/{command}"
    return None
