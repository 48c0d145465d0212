"""Commands that report the Mac and its clock: date, sleep, hostname, sw_vers, uname, id,
whoami, scutil, dscacheutil. Output formats follow macOS 15's tools."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from .calls import DEFERRED, Answer, Call, Commands, usage

COMMANDS = Commands()

SLEEP_SUFFIX_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: The address DNS gives for every name once the network is up (GitHub's, for realism).
RESOLVED_ADDRESS = "140.82.112.4"


def _now(call: Call) -> float:
    return call.machine.clock.wall_s


@COMMANDS.handles("sleep")
def sleep(call: Call):
    """BSD sleep: one operand, seconds, fractions allowed (and s/m/h/d suffixes)."""
    if len(call.args) != 1:
        return usage("usage: sleep number[unit] [...]", 1)
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", call.args[0])
    if not match:
        return usage(f"sleep: invalid time interval: {call.args[0]}", 1)
    seconds = float(match.group(1)) * SLEEP_SUFFIX_S[match.group(2)]
    call.machine.clock.call_later(seconds, f"sleep {call.pid}", lambda: call.reply(Answer(0)))
    return DEFERRED


def _strftime(moment: datetime, fmt: str) -> str:
    # %s (epoch seconds) is a BSD and glibc extension; spell it out so it never depends on the
    # host's local zone.
    return moment.strftime(fmt.replace("%s", str(int(moment.timestamp()))))


@COMMANDS.handles("date")
def date(call: Call):
    """BSD date: -u, -r SECONDS, -j, +FORMAT; setting the clock is not simulated."""
    args = list(call.args)
    seconds = _now(call)
    fmt = "%a %b %e %H:%M:%S %Z %Y"
    while args:
        arg = args.pop(0)
        if arg == "-u" or arg == "-j":
            continue
        if arg == "-r" and args:
            try:
                seconds = float(args.pop(0))
            except ValueError:
                return usage("date: illegal time format", 1)
        elif arg.startswith("+"):
            fmt = arg[1:]
        elif arg == "-R":
            fmt = "%a, %d %b %Y %H:%M:%S %z"
        else:
            return Answer(127, "", f"not simulated: date {' '.join(call.args)}\n")
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return Answer(0, _strftime(moment, fmt) + "\n")


@COMMANDS.handles("hostname")
def hostname(call: Call):
    name = call.machine.config.hostname
    if call.args == ["-s"]:
        return Answer(0, name.split(".")[0] + "\n")
    if call.args in ([], ["-f"]):
        return Answer(0, name + "\n")
    return Answer(127, "", f"not simulated: hostname {' '.join(call.args)}\n")


@COMMANDS.handles("sw_vers")
def sw_vers(call: Call):
    config = call.machine.config
    values = {"-productName": "macOS", "-productVersion": config.macos_version,
              "-buildVersion": config.build_version}
    if not call.args:
        return Answer(0, f"ProductName:\t\tmacOS\nProductVersion:\t\t{config.macos_version}\n"
                         f"BuildVersion:\t\t{config.build_version}\n")
    if len(call.args) == 1 and call.args[0] in values:
        return Answer(0, values[call.args[0]] + "\n")
    return usage("usage: sw_vers [-productName|-productVersion|-productVersionExtra|-buildVersion]", 1)


@COMMANDS.handles("uname")
def uname(call: Call):
    config = call.machine.config
    version = (f"Darwin Kernel Version {config.kernel_release}: Tue Jan  7 20:00:00 PST 2025; "
               "root:xnu-11215.81.4~3/RELEASE_ARM64_T8132")
    fields = {"s": "Darwin", "n": config.hostname, "r": config.kernel_release, "v": version,
              "m": config.arch, "p": "arm" if config.arch == "arm64" else "i386"}
    letters = "".join(arg.lstrip("-") for arg in call.args) or "s"
    if "a" in letters:
        letters = "snrvm"
    if any(letter not in fields for letter in letters):
        return usage("usage: uname [-amnoprsv]", 1)
    return Answer(0, " ".join(fields[letter] for letter in "snrvmp" if letter in letters) + "\n")


@COMMANDS.handles("whoami")
def whoami(call: Call):
    return Answer(0, call.user + "\n")


@COMMANDS.handles("id")
def id_(call: Call):
    """id [-u|-g|-G] [-n] [user]: answers from the Mac's accounts and the process's user."""
    disk = call.machine.disk
    flags = "".join(a.lstrip("-") for a in call.args if a.startswith("-"))
    names = [a for a in call.args if not a.startswith("-")]
    account = disk.accounts.account(names[0] if names else call.user)
    if account is None:
        return Answer(1, "", f"id: {names[0]}: no such user\n")
    group = disk.accounts.group(account.gid)
    groups = [g for g in _groups_of(disk, account)]
    by_name = "n" in flags
    if "u" in flags:
        return Answer(0, (account.name if by_name else str(account.uid)) + "\n")
    if "g" in flags:
        return Answer(0, ((group.name if group else str(account.gid)) if by_name else str(account.gid)) + "\n")
    if "G" in flags:
        return Answer(0, " ".join(g.name if by_name else str(g.gid) for g in groups) + "\n")
    group_text = f"{account.gid}({group.name})" if group else str(account.gid)
    listed = ",".join(f"{g.gid}({g.name})" for g in groups)
    return Answer(0, f"uid={account.uid}({account.name}) gid={group_text} groups={listed}\n")


def _groups_of(disk, account):
    """The primary group first, then every group that lists the account as a member."""
    everything = disk.accounts.groups()
    primary = [g for g in everything if g.gid == account.gid][:1]
    return primary + [g for g in everything if account.name in g.members and g not in primary]


@COMMANDS.handles("scutil")
def scutil(call: Call):
    """scutil --get NAME; scutil -w KEY [-t SECONDS] waits for the network's DNS key."""
    config = call.machine.config
    args = call.args
    if len(args) == 2 and args[0] == "--get":
        names = {"ComputerName": config.hostname.split(".")[0], "LocalHostName": config.hostname.split(".")[0],
                 "HostName": config.hostname}
        if args[1] in names:
            return Answer(0, names[args[1]] + "\n")
        return Answer(1, "", f"{args[1]}: not set\n")
    if args and args[0] == "-w" and len(args) >= 2:
        timeout_s = float(args[3]) if len(args) >= 4 and args[2] == "-t" else 15.0
        network = call.machine.network
        if network.up():
            return Answer(0)
        wait_s = network.seconds_until_up()
        if wait_s is not None and wait_s <= timeout_s:
            call.machine.clock.call_later(wait_s, "scutil -w", lambda: call.reply(Answer(0)))
        else:
            call.machine.clock.call_later(timeout_s, "scutil -w", lambda: call.reply(Answer(1)))
        return DEFERRED
    return Answer(127, "", f"not simulated: scutil {' '.join(args)}\n")


@COMMANDS.handles("dscacheutil")
def dscacheutil(call: Call):
    """dscacheutil -q host -a name NAME: an address once the network is up, nothing before."""
    args = call.args
    if len(args) == 5 and args[:2] == ["-q", "host"] and args[2:4] == ["-a", "name"]:
        if not call.machine.network.up():
            return Answer(0)
        return Answer(0, f"name: {args[4]}\nip_address: {RESOLVED_ADDRESS}\n\n")
    if args == ["-flushcache"]:
        return Answer(0)
    return Answer(127, "", f"not simulated: dscacheutil {' '.join(args)}\n")


def _boot_wall_s(call: Call) -> float:
    """When the current boot began, in seconds since 1970 (the clock's epoch plus the simulated
    second the network model saw the boot start)."""
    clock = call.machine.clock
    return clock.wall_s - (clock.now_s - call.machine.network.boot_started_s)


@COMMANDS.handles("sysctl")
def sysctl(call: Call):
    """sysctl [-n] NAME for the names a bootstrap asks: kern.boottime, hw.model."""
    args = list(call.args)
    quiet = bool(args) and args[0] == "-n"
    names = args[1:] if quiet else args
    if len(names) != 1 or names[0] not in ("kern.boottime", "hw.model"):
        return Answer(127, "", f"not simulated: sysctl {' '.join(call.args)} (only kern.boottime, hw.model)\n")
    if names[0] == "hw.model":
        value = call.machine.config.model
    else:
        booted = _boot_wall_s(call)
        moment = datetime.fromtimestamp(booted, tz=timezone.utc)
        value = f"{{ sec = {int(booted)}, usec = 0 }} {moment.strftime('%a %b %e %H:%M:%S %Y')}"
    return Answer(0, (value if quiet else f"{names[0]}: {value}") + "\n")


@COMMANDS.handles("uptime")
def uptime(call: Call):
    """uptime: the simulated time of day and how long since this boot began (the host's own
    uptime would leak real time into the run)."""
    if call.args:
        return usage("usage: uptime", 1)
    now = datetime.fromtimestamp(_now(call), tz=timezone.utc)
    up_s = int(_now(call) - _boot_wall_s(call))
    days, rest = divmod(up_s, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    since = f"{hours}:{minutes:02d}" if hours else f"{minutes} min{'s' if minutes != 1 else ''}"
    if days:
        since = f"{days} day{'s' if days != 1 else ''}, {since}"
    return Answer(0, f"{now.strftime('%H:%M')}  up {since}, 0 users, load averages: 0.00 0.00 0.00\n")
