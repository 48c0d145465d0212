"""install, chown, chgrp with BSD semantics (macos-behaviour.md §11, §2.2).

Inside the sandbox only uid 0 exists, so owners and groups are written to the disk's ownership
table instead of the file system. `install` is BSD's: it refuses to copy a file onto itself
(exit 64), never creates a missing directory (exit 71), and has no GNU `-D`.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ..accounts import UnknownAccount
from ..confine import NO_ROOM
from ..paths import DiskError, OutsideDisk
from .calls import Answer, Call, Commands

COMMANDS = Commands()

EX_USAGE, EX_NOUSER, EX_OSERR, EX_FTYPE = 64, 67, 71, 79

INSTALL_USAGE = """usage: install [-bCcpSsv] [-B suffix] [-f flags] [-g group] [-m mode]
               [-o owner] file1 file2
       install [-bCcpSsv] [-B suffix] [-f flags] [-g group] [-m mode]
               [-o owner] file1 ... fileN directory
       install -d [-v] [-g group] [-m mode] [-o owner] directory ...
"""
CHOWN_USAGE = """usage: chown [-fhnvx] [-R [-H | -L | -P]] owner[:group] file ...
       chown [-fhnvx] [-R [-H | -L | -P]] :group file ...
"""
CHGRP_USAGE = "usage: chgrp [-fhnvx] [-R [-H | -L | -P]] group file ...\n"


class _Fail(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _getopt(args: list[str], with_value: str, flags: str) -> tuple[dict[str, str], list[str]]:
    """POSIX getopt: options before the operands, `--` ends them."""
    options: dict[str, str] = {}
    while args and args[0].startswith("-") and args[0] != "-":
        arg = args.pop(0)
        if arg == "--":
            break
        letters = arg[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in with_value:
                value = letters or (args.pop(0) if args else None)
                if value is None:
                    raise _Fail(EX_USAGE, f"option requires an argument -- {letter}")
                options[letter] = value
                letters = ""
            elif letter in flags:
                options[letter] = ""
            else:
                raise _Fail(EX_USAGE, f"illegal option -- {letter}")
    return options, args


def _on_disk(call: Call, path: str) -> Path:
    try:
        return call.machine.disk.host_path(path, cwd=call.cwd)
    except OutsideDisk:
        raise _Fail(EX_OSERR, f"{path}: Read-only file system") from None


class _Install:
    def __init__(self, call: Call) -> None:
        self.call = call
        self.machine = call.machine
        self.disk = call.machine.disk
        with_value = "BfghlMmotT" if self.machine.config.macos_tuple < (15,) else "BDfghlMmotT"
        self.options, self.operands = _getopt(list(call.args), with_value, "bCcdpSsUv")
        self.mode = self._mode(self.options.get("m", "755"))
        self.owner = self.options.get("o")
        self.group = self.options.get("g")
        self.output: list[str] = []

    def _mode(self, text: str) -> int:
        try:
            return int(text, 8) & 0o7777
        except ValueError:
            raise _Fail(EX_USAGE, f"invalid file mode: {text}") from None

    def run(self) -> Answer:
        for name, kind in ((self.owner, "user"), (self.group, "group")):
            if name is not None and (self.disk.accounts.account(name) if kind == "user" else self.disk.accounts.group(name)) is None:
                status = EX_NOUSER if self.machine.config.macos_tuple < (15,) else 1
                raise _Fail(status, f"unknown {kind} {name}")
        if "d" in self.options:
            for directory in self.operands:
                self._make_dir(directory)
        else:
            self._install_files()
        return Answer(0, "".join(self.output))

    def _make_dir(self, directory: str) -> None:
        host = _on_disk(self.call, directory)
        if not host.is_dir():
            missing = []
            probe = host
            while not probe.exists():
                missing.append(probe)
                probe = probe.parent
            for created in reversed(missing):
                created.mkdir(mode=0o755)
                self.disk.ownership.record_created(self.disk.mac_path(created), self.call.user)
            if "v" in self.options:
                self.output.append(f"install: mkdir {directory}\n")
        os.chmod(host, self.mode)
        self._set_owner(directory, host)

    def _install_files(self) -> None:
        if len(self.operands) < 2:
            raise _Fail(EX_USAGE, "")
        *sources, target = self.operands
        target_host = _on_disk(self.call, target)
        if len(sources) > 1 or target_host.is_dir():
            if not target_host.is_dir():
                raise _Fail(EX_OSERR, f"{target}: Not a directory")
            for source in sources:
                self._copy(source, f"{target.rstrip('/')}/{os.path.basename(source)}", check_same=False)
        else:
            self._copy(sources[0], target, check_same=True)

    def _copy(self, source: str, target: str, *, check_same: bool) -> None:
        source_host = self.machine.inside_path(source, self.call.cwd)
        if source_host is None or not os.path.exists(source_host):
            raise _Fail(EX_OSERR, f"{source}: No such file or directory")
        if os.path.isdir(source_host):
            raise _Fail(EX_FTYPE, f"{source}: Inappropriate file type or format")
        target_host = _on_disk(self.call, target)
        # The same-file check is done in the two-operand form only (§11.1).
        if check_same and target_host.is_file() and os.path.samefile(source_host, target_host):
            raise _Fail(EX_USAGE, f"{source} and {target} are the same file")
        if not target_host.parent.is_dir():
            if self.machine.config.macos_tuple >= (15, 4):
                suffix = "".join(self.machine.random("install").choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))
                raise _Fail(EX_OSERR, f"{os.path.dirname(target) or '.'}/INS@{suffix}: No such file or directory")
            raise _Fail(EX_OSERR, f"{target}: No such file or directory")
        if "b" in self.options and target_host.exists():
            shutil.copy2(target_host, str(target_host) + self.options.get("B", ".old"))
        # BSD install reads the source through a descriptor it holds open, unlinks the target and
        # creates a new file (a new inode, as on a Mac): so `install SRC DIR/` landing on SRC
        # itself re-creates it with its own contents (§11.1).
        with open(source_host, "rb") as source_file:
            if target_host.is_file() or target_host.is_symlink():
                target_host.unlink()
            try:
                with open(target_host, "wb") as target_file:
                    shutil.copyfileobj(source_file, target_file)
            except OSError as error:
                if error.errno not in NO_ROOM:
                    raise
                target_host.unlink()  # a full disk (confine.py): install removes what it could not finish
                raise _Fail(EX_OSERR, f"{target}: {os.strerror(error.errno)}") from None
        os.chmod(target_host, self.mode)
        if "p" in self.options:
            shutil.copystat(source_host, target_host)
            os.chmod(target_host, self.mode)
        self.disk.ownership.forget(self.disk.mac_path(target_host))
        self.disk.ownership.record_created(self.disk.mac_path(target_host), self.call.user)
        if not self._set_owner(target, target_host):
            return
        if "v" in self.options:
            self.output.append(f"{source} -> {target}\n")

    def _set_owner(self, mac_path: str, host: Path) -> bool:
        if self.owner is None and self.group is None:
            return True
        if self.call.user != "root":
            host.unlink()
            raise _Fail(EX_OSERR, f"{mac_path}: chown/chgrp: Operation not permitted")
        self.disk.ownership.set_owner(self.disk.mac_path(host), self.owner, self.group)
        return True


@COMMANDS.handles("install")
def install(call: Call):
    try:
        return _Install(call).run()
    except _Fail as failure:
        if failure.status == EX_USAGE and not failure.message.endswith("same file"):
            prefix = f"install: {failure.message}\n" if failure.message else ""
            return Answer(EX_USAGE, "", prefix + INSTALL_USAGE)
        return Answer(failure.status, "", f"install: {failure.message}\n")


def _walk(host: Path) -> list[Path]:
    found = [host]
    if host.is_dir() and not host.is_symlink():
        for directory, subdirs, files in os.walk(host):
            subdirs.sort()
            for name in sorted(subdirs) + sorted(files):
                found.append(Path(directory) / name)
    return found


def _change_owner(call: Call, tool: str, owner: str | None, group: str | None, files: list[str],
                  recursive: bool) -> Answer:
    disk = call.machine.disk
    for name, kind in ((owner, "user"), (group, "group")):
        if name and (disk.accounts.account(name) if kind == "user" else disk.accounts.group(name)) is None:
            return Answer(1, "", f"{tool}: {name}: illegal {kind} name\n")
    errors, status = [], 0
    for path in files:
        try:
            host = _on_disk(call, path)
        except _Fail as failure:
            errors.append(f"{tool}: {failure.message}\n")
            status = 1
            continue
        if not os.path.lexists(host):
            errors.append(f"{tool}: {path}: No such file or directory\n")
            status = 1
            continue
        if call.user != "root":
            errors.append(f"{tool}: {path}: Operation not permitted\n")
            status = 1
            continue
        for each in (_walk(host) if recursive else [host]):
            try:
                disk.ownership.set_owner(disk.mac_path(each), owner, group)
            except (DiskError, UnknownAccount) as error:
                errors.append(f"{tool}: {path}: {error}\n")
                status = 1
    return Answer(status, "", "".join(errors))


def _owner_operands(call: Call, usage_text: str) -> tuple[dict[str, str], list[str]] | Answer:
    """chown and chgrp share BSD's options; both need a spec and at least one file."""
    try:
        options, operands = _getopt(list(call.args), "", "fhnvxRHLP")
    except _Fail as failure:
        return Answer(1, "", f"{call.name}: {failure.message}\n{usage_text}")
    if len(operands) < 2:
        return Answer(1, "", usage_text)
    return options, operands


@COMMANDS.handles("chown")
def chown(call: Call):
    parsed = _owner_operands(call, CHOWN_USAGE)
    if isinstance(parsed, Answer):
        return parsed
    options, (spec, *files) = parsed
    owner, _, group = spec.partition(":") if ":" in spec else spec.partition(".")
    return _change_owner(call, "chown", owner or None, group or None, files, "R" in options)


@COMMANDS.handles("chgrp")
def chgrp(call: Call):
    parsed = _owner_operands(call, CHGRP_USAGE)
    if isinstance(parsed, Answer):
        return parsed
    options, (group, *files) = parsed
    return _change_owner(call, "chgrp", None, group, files, "R" in options)


MKTEMP_USAGE = ("usage: mktemp [-d] [-p tmpdir] [-q] [-t prefix] [-u] template ...\n"
                "       mktemp [-d] [-p tmpdir] [-q] [-u] -t prefix\n")
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@COMMANDS.handles("mktemp")
def mktemp(call: Call):
    """BSD mktemp, with names from the seeded PRNG so that a run's trace is reproducible."""
    try:
        options, templates = _getopt(list(call.args), "pt", "dqu")
    except _Fail as failure:
        return Answer(1, "", f"mktemp: {failure.message}\n{MKTEMP_USAGE}")
    tmpdir = options.get("p") or call.env.get("TMPDIR") or "/tmp"
    if "t" in options:
        templates.append(f"{tmpdir.rstrip('/')}/{options['t']}.XXXXXXXX")
    elif not templates:
        templates.append(f"{tmpdir.rstrip('/')}/tmp.XXXXXXXX")
    stream = call.machine.random("mktemp")
    created = []
    for template in templates:
        stem = template.rstrip("X")
        name = stem + "".join(stream.choice(_NAME_CHARS) for _ in range(len(template) - len(stem)))
        try:
            host = _on_disk(call, name)
        except _Fail as failure:
            return Answer(1, "".join(created), f"mktemp: mkstemp failed on {template}: {failure.message}\n")
        if not host.parent.is_dir():
            return Answer(1, "".join(created),
                          "" if "q" in options else f"mktemp: mkstemp failed on {template}: No such file or directory\n")
        if "u" not in options:
            if "d" in options:
                host.mkdir(mode=0o700)
            else:
                host.touch(mode=0o600, exist_ok=False)
            if call.user != "root":
                call.machine.disk.ownership.record_created(call.machine.disk.mac_path(host), call.user)
        created.append(name + "\n")
    return Answer(0, "".join(created))


STAT_USAGE = "usage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file ...]\n"
_FILE_TYPES = {"f": "Regular File", "d": "Directory", "l": "Symbolic Link"}


@COMMANDS.handles("stat")
def stat_(call: Call):
    """BSD stat -f FORMAT (with -L, -n, -q): the owner and group from the Mac's ownership table,
    not the sandbox's uid 0. Formats: %N name, %Su %Sg owner and group names, %u %g their
    numbers, %Lp permission bits and %p the whole mode (octal), %Sp the mode as ls shows it, %z
    size, %HT the file type, %% %n %t. Times are not simulated (they would be the host's)."""
    try:
        options, files = _getopt(list(call.args), "ft", "FLnqlrsx")
    except _Fail as failure:
        return Answer(1, "", f"stat: {failure.message}\n{STAT_USAGE}")
    if "f" not in options or set(options) & set("Flrsxt") or not files:
        return Answer(127, "", f"not simulated: stat {' '.join(call.args)} (only -f FORMAT [-L] [-n] [-q])\n")
    out, errors, status = [], [], 0
    for path in files:
        try:
            line = _stat_line(call, path, options["f"], follow="L" in options)
        except _Fail as failure:
            status = 1
            if "q" not in options:
                errors.append(f"stat: {path}: stat: {failure.message}\n")
            continue
        out.append(line + ("" if "n" in options else "\n"))
    return Answer(status, "".join(out), "".join(errors))


def _stat_line(call: Call, path: str, fmt: str, *, follow: bool) -> str:
    disk = call.machine.disk
    try:
        host = disk.host_path(path, cwd=call.cwd, follow_last=follow)
        st = os.stat(host) if follow else os.lstat(host)
    except OutsideDisk:
        raise _Fail(1, "not simulated for the host's read-only trees") from None
    except (FileNotFoundError, NotADirectoryError):
        raise _Fail(1, "No such file or directory") from None
    mac = disk.mac_path(host)
    owner, group = disk.ownership.owner(mac, follow_last=False)
    account, group_entry = disk.accounts.account(owner), disk.accounts.group(group)
    kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else "f"
    # A link on macOS has the mode the umask left it (lrwxr-xr-x); Linux gives every link 0777.
    mode = stat.S_IFLNK | 0o755 if kind == "l" else st.st_mode
    # APFS gives a directory 64 bytes and 32 more per entry; the host's file system would not.
    size = 64 + 32 * len(os.listdir(host)) if kind == "d" else st.st_size
    values = {"N": path, "Su": owner, "Sg": group, "u": str(account.uid if account else 0),
              "g": str(group_entry.gid if group_entry else 0), "Lp": f"{stat.S_IMODE(mode):o}",
              "p": f"{mode:o}", "Sp": stat.filemode(mode), "z": str(size),
              "HT": _FILE_TYPES[kind], "%": "%", "n": "\n", "t": "\t"}
    result, index = [], 0
    while index < len(fmt):
        if fmt[index] != "%":
            result.append(fmt[index])
            index += 1
            continue
        for code in ("Su", "Sg", "Sp", "Lp", "HT", "N", "u", "g", "p", "z", "%", "n", "t"):
            if fmt.startswith(code, index + 1):
                result.append(values[code])
                index += 1 + len(code)
                break
        else:
            raise _Fail(1, f"not simulated: the format {fmt[index:index + 3]!r}")
    return "".join(result)
