"""Launchd job definitions: parse a plist as launchd does and say why one would be rejected.

launchd.plist(5) keys are case-sensitive; an unknown key is ignored (so `ExitTimeout` with a
lower-case o does nothing), a key of the wrong type is ignored with a log line. The reasons a
plist is not loaded at all carry the launchctl error numbers of macos-behaviour.md §3.
"""
from __future__ import annotations

import plistlib
import stat
from dataclasses import dataclass, field

DEFAULT_THROTTLE_INTERVAL_S = 10
#: `launchctl print` shows "exit timeout = 5" on current macOS; the historic source used 20.
DEFAULT_EXIT_TIMEOUT_S = 5

# launchctl error numbers (macos-behaviour.md §3)
EIO = 5
EINVAL_PLIST = 109
EBADLABEL = 110
EBADPROGRAM = 111
EDISABLED = 119
EBADPERMS = 122

ERROR_TEXT = {
    2: "No such file or directory",
    3: "No such process",
    5: "Input/output error",
    37: "Operation already in progress",
    109: "Invalid property list",
    110: "Invalid or missing service identifier",
    111: "Invalid or missing Program/ProgramArguments",
    113: "Could not find specified service",
    119: "Service is disabled",
    122: "Path had bad ownership/permissions",
}


class PlistRejected(ValueError):
    """launchd would not load this plist. `code` is the launchctl error number."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class KeepAlive:
    always: bool = False
    successful_exit: bool | None = None  # restart while the last exit was (True) / was not (False) 0
    crashed: bool | None = None
    path_state: tuple[tuple[str, bool], ...] = ()

    @property
    def any(self) -> bool:
        return self.always or self.successful_exit is not None or self.crashed is not None or bool(self.path_state)


@dataclass(frozen=True)
class JobSpec:
    """What launchd learned from one plist file."""

    label: str
    path: str
    arguments: tuple[str, ...]
    program: str
    run_at_load: bool = False
    launch_only_once: bool = False
    keep_alive: KeepAlive = field(default_factory=KeepAlive)
    start_interval_s: int | None = None
    throttle_interval_s: int = DEFAULT_THROTTLE_INTERVAL_S
    exit_timeout_s: int | None = None  # None: the machine's default
    abandon_process_group: bool = False
    environment: tuple[tuple[str, str], ...] = ()
    working_directory: str | None = None
    user_name: str | None = None
    group_name: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    disabled_in_plist: bool = False
    ignored_keys: tuple[str, ...] = ()

    @property
    def starts_at_load(self) -> bool:
        """RunAtLoad, or a KeepAlive that implies it (true, or SuccessfulExit)."""
        return (self.run_at_load or self.keep_alive.always
                or self.keep_alive.successful_exit is not None)


def check_ownership(owner: str, mode: int) -> None:
    """Raises PlistRejected(122) unless owned by root and not group- or world-writable.

    The group is not part of the rule (macos-behaviour.md §2.1).
    """
    if owner != "root":
        raise PlistRejected(EBADPERMS, f"owner is {owner}, not root")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PlistRejected(EBADPERMS, f"mode {stat.S_IMODE(mode):04o} is group- or world-writable")


def _typed(data: dict, key: str, kind: type, ignored: list[str]):
    value = data.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, bool):
        ignored.append(key)
        return None
    if not isinstance(value, kind):
        ignored.append(key)
        return None
    return value


def _keep_alive(value, ignored: list[str]) -> KeepAlive:
    if value is None:
        return KeepAlive()
    if isinstance(value, bool):
        return KeepAlive(always=value)
    if not isinstance(value, dict):
        ignored.append("KeepAlive")
        return KeepAlive()
    path_state = value.get("PathState") or {}
    if not isinstance(path_state, dict):
        ignored.append("KeepAlive.PathState")
        path_state = {}
    successful = value.get("SuccessfulExit")
    crashed = value.get("Crashed")
    return KeepAlive(
        successful_exit=successful if isinstance(successful, bool) else None,
        crashed=crashed if isinstance(crashed, bool) else None,
        path_state=tuple(sorted((str(p), bool(v)) for p, v in path_state.items() if isinstance(v, bool))),
    )


def parse_job(content: bytes, path: str) -> JobSpec:
    """The job a plist file defines, or PlistRejected with launchctl's error number."""
    try:
        data = plistlib.loads(content)
    except Exception as error:  # plistlib raises several unrelated types for bad input
        raise PlistRejected(EINVAL_PLIST, f"not a property list ({error})") from None
    if not isinstance(data, dict):
        raise PlistRejected(EINVAL_PLIST, "the top level is not a dictionary")
    label = data.get("Label")
    if not isinstance(label, str) or not label:
        raise PlistRejected(EBADLABEL, "no Label string")
    ignored: list[str] = []
    program = _typed(data, "Program", str, ignored)
    arguments = _typed(data, "ProgramArguments", list, ignored)
    if arguments is not None and not all(isinstance(a, str) for a in arguments):
        raise PlistRejected(EBADPROGRAM, "ProgramArguments holds a non-string")
    if not program and not arguments:
        raise PlistRejected(EBADPROGRAM, "neither Program nor ProgramArguments")
    arguments = tuple(arguments or (program,))
    environment = _typed(data, "EnvironmentVariables", dict, ignored) or {}
    throttle_s = _typed(data, "ThrottleInterval", int, ignored)
    return JobSpec(
        label=label,
        path=path,
        arguments=arguments,
        program=program or arguments[0],
        run_at_load=bool(_typed(data, "RunAtLoad", bool, ignored)),
        launch_only_once=bool(_typed(data, "LaunchOnlyOnce", bool, ignored)),
        keep_alive=_keep_alive(data.get("KeepAlive"), ignored),
        start_interval_s=_typed(data, "StartInterval", int, ignored),
        # "ThrottleInterval set to zero. You're not that important. Ignoring."
        throttle_interval_s=throttle_s if throttle_s else DEFAULT_THROTTLE_INTERVAL_S,
        exit_timeout_s=_typed(data, "ExitTimeOut", int, ignored),
        abandon_process_group=bool(_typed(data, "AbandonProcessGroup", bool, ignored)),
        # Non-string values are ignored, the rest set verbatim (no $HOME expansion).
        environment=tuple(sorted((k, v) for k, v in environment.items() if isinstance(v, str))),
        working_directory=_typed(data, "WorkingDirectory", str, ignored),
        user_name=_typed(data, "UserName", str, ignored),
        group_name=_typed(data, "GroupName", str, ignored),
        stdout_path=_typed(data, "StandardOutPath", str, ignored),
        stderr_path=_typed(data, "StandardErrorPath", str, ignored),
        disabled_in_plist=bool(_typed(data, "Disabled", bool, ignored)),
        ignored_keys=tuple(ignored),
    )


def render(job: dict) -> bytes:
    """A plist file for `job` (used by scenarios and tests to prepare hosts)."""
    return plistlib.dumps(job, fmt=plistlib.FMT_XML, sort_keys=True)
