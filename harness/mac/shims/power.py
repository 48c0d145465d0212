"""shutdown, reboot, halt: they return, and the machine goes down (macos-behaviour.md §8).

`shutdown -r now` asks launchd to reboot and exits 0; the caller keeps running only until
launchd's teardown reaches it, which here is before its next step: SIGTERM to every process,
SIGKILL after the grace period. Both commands need root, as on macOS.
"""
from __future__ import annotations

from .calls import Answer, Call, Commands, usage

COMMANDS = Commands()

SHUTDOWN_USAGE = "usage: shutdown [-] [-h [-u] [-n] | -r [-n] | -s | -k] time [warning-message ...]"
BANNER = "\n\nSystem shutdown time has arrived\a\a\n"


@COMMANDS.handles("shutdown")
def shutdown(call: Call):
    args = list(call.args)
    how = None
    while args and args[0].startswith("-") and args[0] != "-":
        flags = args.pop(0)[1:]
        for flag in flags:
            if flag == "r":
                how = "reboot"
            elif flag == "h":
                how = "halt"
            elif flag == "k":
                how = how or "warn"
            elif flag == "s":
                return Answer(127, "", "not simulated: shutdown -s (sleep)\n")
            elif flag in "nuo":
                continue
            else:
                return usage(f"shutdown: illegal option -- {flag}\n{SHUTDOWN_USAGE}", 1)
    if not args:
        return usage(SHUTDOWN_USAGE, 1)
    if call.user != "root":
        return Answer(1, "", "shutdown: NOT super-user\n")
    when = args[0]
    if how in (None, "warn"):
        return Answer(0)  # a warning to logged-in users; nothing happens to the machine
    if when == "now" or when == "+0":
        call.machine.request_shutdown(how, cause=f"shutdown {' '.join(call.args)}", pid=call.pid)
        return Answer(0, BANNER)
    if when.startswith("+") and when[1:].isdigit():
        delay_s = int(when[1:]) * 60
        call.machine.clock.call_later(
            delay_s, "shutdown +N",
            lambda: call.machine.request_shutdown(how, cause=f"shutdown {' '.join(call.args)}", pid=call.pid))
        return Answer(0, f"Shutdown at {when[1:]} minutes from now.\n")
    return Answer(127, "", f"not simulated: shutdown at an absolute time ({when})\n")


@COMMANDS.handles("reboot", "halt")
def reboot(call: Call):
    name = call.name
    if call.args and call.args != ["-q"]:
        if any(arg not in ("-q", "-l", "-n") for arg in call.args):
            return usage(f"usage: {name} [-lnq]", 1)
    if call.user != "root":
        return Answer(1, "", f"{name}: Operation not permitted\n")
    how = "reboot" if name == "reboot" else "halt"
    call.machine.request_shutdown(how, cause=f"{name} {' '.join(call.args)}".strip(), pid=call.pid)
    return Answer(0)
