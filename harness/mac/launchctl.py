"""launchctl's subcommands with macOS 15's messages and exit codes (macos-behaviour.md §3).

Legacy `load`/`unload` print their failure and still exit 0 (only usage errors are non-zero);
the domain subcommands exit with the error number they print. Only the system domain is
modelled: a `gui/…` or `user/…` target is reported as not simulated.
"""
from __future__ import annotations

from .launchd import Job
from .plist import EDISABLED, EIO, ERROR_TEXT, JobSpec, PlistRejected
from .shims.calls import Answer, Call, Commands

COMMANDS = Commands()

USAGE = """Usage: launchctl <subcommand> ... | help [subcommand]
Many subcommands take a target specifier that refers to a domain or service
within that domain. The available specifier forms are:
"""
NOT_MODELLED = ("blame", "procinfo", "asuser", "bsexec", "config", "submit", "managerpid",
                "manageruid", "managername", "hostinfo", "resolveport", "examine", "attach",
                "debug", "dumpstate", "dumpjpcategory", "reboot", "userswitch", "bootshell",
                "setenv", "unsetenv", "getenv", "uncache", "limit", "plist", "variant",
                "version", "print-cache", "print-token", "dump-xsc", "kill", "enable-cache")


def _err(code: int) -> str:
    return f"{code}: {ERROR_TEXT.get(code, 'Unknown error')}"


def _not_simulated(call: Call, what: str) -> Answer:
    call.machine.event("not-simulated", pid=call.pid, job=call.job, name="launchctl", argv=call.argv,
                       detail=what)
    return Answer(127, "", f"not simulated: launchctl {what}\n")


def _service_target(call: Call, target: str) -> str | Answer:
    """The label in `system/LABEL`, or the Answer to give when the target is not one."""
    domain, _, label = target.partition("/")
    if domain != "system":
        return _not_simulated(call, f"domain {domain or target!r} (only the system domain is modelled)")
    if not label:
        # An empty label, usually from an unset shell variable: refuse loudly rather than guess
        # what launchd would do with the bare domain.
        return _not_simulated(call, f"{call.args[0]} {target!r} (a service target with an empty label)")
    return label


@COMMANDS.handles("launchctl")
def launchctl(call: Call):
    if not call.args:
        return Answer(64, "", USAGE)
    sub, rest = call.args[0], call.args[1:]
    handler = SUBCOMMANDS.get(sub)
    if handler is not None:
        return handler(call, rest)
    if sub in NOT_MODELLED:
        return _not_simulated(call, sub)
    return Answer(64, "", f"Unrecognized subcommand: {sub}\n{USAGE}")


def _legacy_targets(call: Call, args: list[str]) -> list[tuple[str, JobSpec | PlistRejected]]:
    """The plists that `load`/`unload [-wF] PATH...` name, each read or rejected."""
    found: list[tuple[str, JobSpec | PlistRejected]] = []
    for path in (a for a in args if not a.startswith("-")):
        try:
            found.append((path, call.machine.launchd.read_plist(path, call.cwd)))
        except PlistRejected as rejected:
            found.append((path, rejected))
    return found


def _legacy_usage(verb: str) -> Answer:
    return Answer(64, "", f"Usage: launchctl {verb} [-wF] <service-path, service-path2, ...>\n")


def _load(call: Call, args: list[str]) -> Answer:
    write = "-w" in args
    launchd = call.machine.launchd
    errors = []
    found = _legacy_targets(call, args)
    if not found:
        return _legacy_usage("load")
    for path, spec in found:
        if isinstance(spec, PlistRejected):
            rejected = spec
            if call.user != "root":
                errors.append(f"Load failed: {_err(EIO)}\nTry running `launchctl bootstrap` as root for richer errors.\n")
            elif rejected.code == 2:
                errors.append(f"Load failed: {_err(2)}\n")
            else:
                errors.append(f"{path}: {ERROR_TEXT[rejected.code]}\nLoad failed: {_err(rejected.code)}\n")
            continue
        if write:
            launchd.overrides.set_disabled(spec.label, False)
        code = launchd.load(spec, why=f"launchctl load{' -w' if write else ''}")
        if code == EDISABLED and call.user == "root":
            errors.append(f"{path}: {ERROR_TEXT[EDISABLED]}\nLoad failed: {_err(EDISABLED)}\n")
        elif code:
            errors.append(f"Load failed: {_err(EIO)}\nTry running `launchctl bootstrap` as root for richer errors.\n")
    # Exit 0 even after a failure: "load and unload return non-zero only for improper usage".
    return Answer(0, "", "".join(errors))


def _unload(call: Call, args: list[str]) -> Answer:
    write = "-w" in args
    launchd = call.machine.launchd
    errors = []
    found = _legacy_targets(call, args)
    if not found:
        return _legacy_usage("unload")
    for _path, spec in found:
        if isinstance(spec, PlistRejected):
            errors.append(f"Unload failed: {_err(spec.code if spec.code == 2 else EIO)}\n")
            continue
        if write:
            launchd.overrides.set_disabled(spec.label, True)
        if not launchd.remove(spec.label):
            errors.append(f"Unload failed: {_err(EIO)}\nTry running `launchctl bootout` as root for richer errors.\n")
    return Answer(0, "", "".join(errors))


def _bootstrap(call: Call, args: list[str]) -> Answer:
    if len(args) < 2:
        return Answer(64, "", "Usage: launchctl bootstrap <domain-target> [service-path, service-path2, ...]\n")
    if args[0] != "system":
        return _not_simulated(call, f"bootstrap {args[0]} (only the system domain is modelled)")
    if call.user != "root":
        return Answer(1, "", "Bootstrap failed: 1: Operation not permitted\n")
    launchd = call.machine.launchd
    for path in args[1:]:
        try:
            spec = launchd.read_plist(path, call.cwd)
        except PlistRejected as rejected:
            return Answer(rejected.code, "", f"Bootstrap failed: {_err(rejected.code)}\n")
        code = launchd.load(spec, why="launchctl bootstrap")
        if code:
            return Answer(code, "", f"Bootstrap failed: {_err(code)}\n")
    return Answer(0)


def _bootout(call: Call, args: list[str]) -> Answer:
    if not args:
        return Answer(64, "", "Usage: launchctl bootout <domain-target> [service-path1, service-path2, ...] | <service-target>\n")
    launchd = call.machine.launchd
    if len(args) >= 2:
        if args[0] != "system":
            return _not_simulated(call, f"bootout {args[0]} (only the system domain is modelled)")
        for path in args[1:]:
            try:
                spec = launchd.read_plist(path, call.cwd)
            except PlistRejected:
                return Answer(EIO, "", f"Boot-out failed: {_err(EIO)}\n")
            if not launchd.remove(spec.label):
                return Answer(EIO, "", f"Boot-out failed: {_err(EIO)}\n")
        return Answer(0)
    label = _service_target(call, args[0])
    if isinstance(label, Answer):
        return label
    if not launchd.remove(label):
        return Answer(3, "", f"Boot-out failed: {_err(3)}\n")
    return Answer(0)


def _enable_disable(disabled: bool):
    def handler(call: Call, args: list[str]) -> Answer:
        if len(args) != 1:
            return Answer(64, "", f"Usage: launchctl {'disable' if disabled else 'enable'} <service-target>\n")
        label = _service_target(call, args[0])
        if isinstance(label, Answer):
            return label
        call.machine.launchd.overrides.set_disabled(label, disabled)
        return Answer(0)
    return handler


def _not_found(label: str, domain: str = "system") -> Answer:
    return Answer(113, "", f'Could not find service "{label}" in domain for {domain}\n')


def _kickstart(call: Call, args: list[str]) -> Answer:
    flags = [a for a in args if a.startswith("-")]
    targets = [a for a in args if not a.startswith("-")]
    if len(targets) != 1:
        return Answer(64, "", "Usage: launchctl kickstart [-kp] <service-target>\n")
    label = _service_target(call, targets[0])
    if isinstance(label, Answer):
        return label
    launchd = call.machine.launchd
    job = launchd.jobs.get(label)
    if job is None:
        return _not_found(label)
    if job.running:
        if not any("k" in flag for flag in flags):
            return Answer(0)
        job.restart_after_stop = True
        launchd.stop(job)
        return Answer(0)
    launchd.start(job, why="kickstart")
    return Answer(0)


def _list(call: Call, args: list[str]) -> Answer:
    launchd = call.machine.launchd
    if args:
        job = launchd.jobs.get(args[0])
        if job is None:
            return _not_found(args[0], "port")
        return Answer(0, _list_one(job))
    rows = ["PID\tStatus\tLabel\n"]
    for label in sorted(launchd.jobs):
        job = launchd.jobs[label]
        pid = str(job.spawn.ns_pid) if job.running and job.spawn and job.spawn.ns_pid else "-"
        rows.append(f"{pid}\t{job.last_exit if job.last_exit is not None else 0}\t{label}\n")
    return Answer(0, "".join(rows))


def _list_one(job: Job) -> str:
    lines = ["{", '\t"LimitLoadToSessionType" = "System";', f'\t"Label" = "{job.label}";',
             '\t"OnDemand" = true;']
    if job.last_exit is not None:
        # The dict form shows the raw wait(2) status (exit 1 -> 256) (§3.7).
        raw = job.last_exit << 8 if job.last_exit >= 0 else -job.last_exit
        lines.append(f'\t"LastExitStatus" = {raw};')
    if job.running and job.spawn and job.spawn.ns_pid:
        lines.append(f'\t"PID" = {job.spawn.ns_pid};')
    lines.append(f'\t"Program" = "{job.spec.program}";')
    lines.append('\t"ProgramArguments" = (')
    lines += [f'\t\t"{a}";' for a in job.spec.arguments]
    lines += ["\t);", "};"]
    return "\n".join(lines) + "\n"


def _print(call: Call, args: list[str]) -> Answer:
    if len(args) != 1:
        return Answer(64, "", "Usage: launchctl print <domain-target> | <service-target>\n")
    label = _service_target(call, args[0])
    if isinstance(label, Answer):
        return label
    machine = call.machine
    job = machine.launchd.jobs.get(label)
    if job is None:
        return _not_found(label)
    spec = job.spec
    exit_timeout = spec.exit_timeout_s if spec.exit_timeout_s is not None else machine.config.exit_timeout_s
    state = "running" if job.running else ("spawn scheduled" if job.spawn_timer else "not running")
    last = "(never exited)" if job.last_exit is None else (
        f"{job.last_exit}: EX_CONFIG" if job.last_exit == 78 else str(job.last_exit))
    lines = [f"system/{label} = {{", "\tactive count = " + ("1" if job.running else "0"),
             f"\tpath = {spec.path}", "\ttype = LaunchDaemon", f"\tstate = {state}", "",
             f"\tprogram = {spec.program}", "\targuments = {"]
    lines += [f"\t\t{a}" for a in spec.arguments]
    lines += ["\t}", ""]
    if spec.stdout_path:
        lines.append(f"\tstdout path = {spec.stdout_path}")
    if spec.stderr_path:
        lines.append(f"\tstderr path = {spec.stderr_path}")
    lines += ["\tdefault environment = {", "\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin", "\t}", "",
              "\tenvironment = {"]
    lines += [f"\t\t{k} => {v}" for k, v in spec.environment]
    lines += [f"\t\tXPC_SERVICE_NAME => {label}", "\t}", "", "\tdomain = system",
              f"\tminimum runtime = {spec.throttle_interval_s}", f"\texit timeout = {exit_timeout}",
              f"\truns = {job.runs}"]
    if job.running and job.spawn and job.spawn.ns_pid:
        lines.append(f"\tpid = {job.spawn.ns_pid}")
    if spec.run_at_load:
        lines.append("\timmediate reason = speculative")
    lines += [f"\tlast exit code = {last}", "}"]
    return Answer(0, "\n".join(lines) + "\n")


def _print_disabled(call: Call, args: list[str]) -> Answer:
    if args != ["system"]:
        return _not_simulated(call, f"print-disabled {' '.join(args)}")
    rows = [f'\t"{label}" => {"disabled" if off else "enabled"}'
            for label, off in sorted(call.machine.launchd.overrides.table().items())]
    return Answer(0, "disabled services = {\n" + "".join(r + "\n" for r in rows) + "}\n")


def _remove(call: Call, args: list[str]) -> Answer:
    if len(args) != 1:
        return Answer(64, "", "Usage: launchctl remove <label>\n")
    if not call.machine.launchd.remove(args[0]):
        return Answer(3, "", f"launchctl remove error: {ERROR_TEXT[3]}\n")
    return Answer(0)


def _start_stop(start: bool):
    def handler(call: Call, args: list[str]) -> Answer:
        if len(args) != 1:
            return Answer(64, "", f"Usage: launchctl {'start' if start else 'stop'} <service-name>\n")
        launchd = call.machine.launchd
        job = launchd.jobs.get(args[0])
        if job is None:
            return Answer(3, "", f"{'Start' if start else 'Stop'} failed: {_err(3)}\n")
        if start:
            launchd.start(job, why="launchctl start")
        else:
            launchd.stop(job)
        return Answer(0)
    return handler


def _error(call: Call, args: list[str]) -> Answer:
    if len(args) != 1 or not args[0].isdigit():
        return Answer(64, "", "Usage: launchctl error <code>\n")
    return Answer(0, f"{int(args[0])}: {ERROR_TEXT.get(int(args[0]), 'Unknown error')}\n")


SUBCOMMANDS = {
    "load": _load, "unload": _unload, "bootstrap": _bootstrap, "bootout": _bootout,
    "enable": _enable_disable(False), "disable": _enable_disable(True), "kickstart": _kickstart,
    "list": _list, "print": _print, "print-disabled": _print_disabled, "remove": _remove,
    "start": _start_stop(True), "stop": _start_stop(False), "error": _error,
}
