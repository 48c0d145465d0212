"""The isolated view of the Mac's disk that every simulated process runs in.

`Runtime.build()` lays out, once per machine, the directories the sandbox shows at macOS's
command paths: for each of `/bin`, `/sbin`, `/usr/bin`, `/usr/sbin` and `/usr/libexec`, links
to the host tools macOS also has there, plus the shims, which shadow any host tool of the same
name. A command macOS does not ship (`flock`, `timeout`, `systemctl` …) is simply absent, as on a
Mac. `bwrap_argv()` is a pure function from (disk, runtime) to the bubblewrap command line.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .paths import DISK_TOP_LEVEL, DISK_TOP_SYMLINKS, USR_LOCAL

HOST_USR = Path("/usr")
INSIDE = "/.macsim"  # where the runtime is mounted inside the sandbox

# Commands the controller answers, at their macOS paths.
SHIMS: dict[str, tuple[str, ...]] = {
    "/bin": ("launchctl", "date", "sleep", "hostname"),
    "/sbin": ("shutdown", "reboot", "halt"),
    "/usr/bin": ("sudo", "install", "sw_vers", "dscacheutil", "id", "whoami", "uname", "chgrp",
                 "mktemp", "ssh", "python3", "stat", "uptime", "defaults", "curl", "security"),
    "/usr/sbin": ("chown", "scutil", "systemsetup", "sysctl", "sysadminctl", "softwareupdate"),
}

# macOS-only commands macsim does not model: they fail loudly instead of doing nothing.
NOT_SIMULATED: dict[str, tuple[str, ...]] = {
    "/usr/bin": ("dscl", "profiles", "csrutil", "pmset", "codesign",
                 "plutil", "ditto", "open", "osascript", "log", "fdesetup", "tccutil",
                 "xcode-select", "caffeinate", "sqlite3", "kmutil", "mdfind", "fs_usage"),
    "/usr/sbin": ("networksetup", "diskutil", "spctl",
                  "system_profiler", "ioreg", "nvram", "pkgutil", "installer",
                  "ipconfig", "kextstat", "bless", "dseditgroup", "createhomedir"),
    "/usr/libexec": ("PlistBuddy", "mdmclient"),
    "/sbin": ("md5", "mount_apfs", "kextload"),
}

# Host tools that macOS also ships, by the macOS directory they live in. Anything not listed
# is absent inside the Mac, so a script relying on a Linux-only tool fails here as on a Mac.
MACOS_TOOLS: dict[str, tuple[str, ...]] = {
    "/bin": ("bash", "sh", "cat", "chmod", "cp", "dd", "df", "echo", "expr", "kill", "link", "ln",
             "ls", "mkdir", "mv", "ps", "pwd", "realpath", "rm", "rmdir", "stty", "sync", "test",
             "unlink", "zsh", "dash", "ksh", "csh", "tcsh"),
    "/sbin": ("ping", "ifconfig", "mount", "umount", "route"),
    "/usr/bin": (
        "awk", "base64", "basename", "bc", "bunzip2", "bzip2", "cksum", "cmp", "comm", "csplit",
        "curl", "cut", "diff", "dirname", "du", "egrep", "env", "expand", "false", "fgrep",
        "file", "find", "fmt", "fold", "getconf", "getopt", "git", "grep", "groups", "gunzip",
        "gzip", "head", "hexdump", "host", "iconv", "join", "jq", "less", "locale", "logger",
        "logname", "lsof", "make", "mkfifo", "mktemp", "more", "nc", "nice", "nl", "nohup", "od",
        "openssl", "paste", "patch", "perl", "pgrep", "pkill", "pr", "printenv", "printf",
        "python3", "readlink", "renice", "rev", "rsync", "ruby", "scp", "sdiff", "sed", "seq",
        "sftp", "shasum", "sort", "split", "ssh", "ssh-keygen", "stat", "strings", "sum", "tail",
        "tar", "tee", "time", "touch", "tput", "tr", "true", "tty", "uniq", "unzip", "uptime",
        "users", "vi", "vim", "wc", "what", "whereis", "which", "who", "xargs", "xxd", "yes",
        "zip", "zcat", "column", "tsort", "unexpand", "lockf",
    ),
    "/usr/sbin": ("chroot", "cron", "lsof", "sshd", "traceroute", "visudo"),
    "/usr/libexec": (),
}

# Host tools needed by the host tools above (git runs its helpers by these names).
SUPPORT_TOOLS = ("git-receive-pack", "git-upload-pack", "git-upload-archive", "git-shell",
                 "python3.11", "perl5.36.0", "gpg", "gpgv", "ssh-agent")


@dataclass(frozen=True)
class Runtime:
    """What is mounted at /.macsim inside the sandbox: the read-only part (program, step hook,
    command directories), shared by every machine, and one machine's `run` directory (its
    controller socket and session outputs)."""

    root: Path
    run_dir: Path | None = None

    @property
    def run(self) -> Path:
        return self.run_dir or self.root / "run"

    @property
    def socket_path(self) -> Path:
        return self.run / "ctl.sock"

    def with_run_dir(self, run_dir: Path) -> "Runtime":
        return Runtime(self.root, run_dir)

    @classmethod
    def shared(cls, native: Path, cache_dir: Path) -> "Runtime":
        """The read-only part, built once per (program, command lists, step hook) into
        `cache_dir`: building it costs tens of milliseconds, more than a boot's steps."""
        stamp = hashlib.sha256(native.read_bytes() + Path(__file__).read_bytes()
                               + Path(__file__).with_name("stepper.bash").read_bytes()).hexdigest()[:16]
        root = cache_dir / f"runtime-{stamp}"
        if not (root / "complete").exists():
            partial = Path(tempfile.mkdtemp(prefix=f"runtime-{stamp}.", dir=cache_dir))
            cls.build(partial, native)
            (partial / "complete").touch()
            try:
                os.rename(partial, root)
            except OSError:  # another process built it first
                shutil.rmtree(partial, ignore_errors=True)
        return cls(root)

    def command_dir(self, mac_dir: str) -> Path:
        return self.root / "cmd" / mac_dir.strip("/").replace("/", "-")

    @classmethod
    def build(cls, root: Path, native: Path) -> "Runtime":
        """Lays out the runtime directory: native program, step hook, command directories."""
        runtime = cls(root)
        for sub in ("bin", "lib", "run", "cmd"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        program = root / "bin" / "macsim"
        shutil.copy2(native, program)
        for alias in ("macsim-init", "macsim-step"):
            _relink(root / "bin" / alias, "macsim")
        shutil.copy2(Path(__file__).with_name("stepper.bash"), root / "lib" / "stepper.bash")
        shim_names = {name for names in (*SHIMS.values(), *NOT_SIMULATED.values()) for name in names}
        for mac_dir in sorted(set(MACOS_TOOLS) | set(SHIMS) | set(NOT_SIMULATED)):
            runtime._build_command_dir(mac_dir, shim_names)
        return runtime

    def _build_command_dir(self, mac_dir: str, shim_names: set[str]) -> None:
        target = self.command_dir(mac_dir)
        target.mkdir(parents=True, exist_ok=True)
        wanted: dict[str, str] = {}
        tools = MACOS_TOOLS.get(mac_dir, ())
        if mac_dir == "/usr/bin":
            tools = tools + SUPPORT_TOOLS
        for name in tools:
            host = _host_tool(name)
            if host is not None:
                wanted[name] = f"{INSIDE}/host{host}"
        # A shim or a not-simulated command shadows the host tool of the same name wherever
        # the host would have provided one, and also stands at its macOS path.
        for name in shim_names:
            if name in wanted or name in SHIMS.get(mac_dir, ()) or name in NOT_SIMULATED.get(mac_dir, ()):
                wanted[name] = f"{INSIDE}/bin/macsim"
        for name in ("bash", "sh"):
            if name in wanted:
                wanted[name] = f"{INSIDE}/bin/macsim"
        for name, link_target in sorted(wanted.items()):
            _relink(target / name, link_target)


def _relink(link: Path, target: str) -> None:
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _host_tool(name: str) -> str | None:
    """The host path (under /usr) of a tool, or None when the host lacks it. Links are followed
    to the program itself: a Debian host reaches `awk` or `which` through /etc/alternatives,
    and inside the sandbox /etc is the Mac's, where that link would dangle."""
    for directory in ("bin", "sbin", "lib/git-core"):
        candidate = HOST_USR / directory / name
        if candidate.exists():
            real = Path(os.path.realpath(candidate))
            return str(real) if real.is_relative_to(HOST_USR) else str(candidate)
    return None


def bwrap_argv(bwrap: str, disk_root: Path, runtime: Runtime, *, info_fd: int, command: list[str],
               ro_binds: tuple[tuple[Path, str], ...] = ()) -> list[str]:
    """The bubblewrap command that runs `command` inside the Mac.

    `/` is an empty tmpfs made read-only at the end; each top-level folder of the Mac's disk is
    bound read-write at its macOS path; the host's /usr is visible read-only (except
    /usr/local, which is the Mac's); the command directories stand at /bin, /sbin, /usr/bin,
    /usr/sbin and /usr/libexec. `ro_binds` are what the world's models show inside (GitHub's
    repositories and git's https transport, the mail relay's Python start-up).
    """
    argv = [
        bwrap, "--unshare-user", "--uid", "0", "--gid", "0", "--unshare-pid", "--unshare-net",
        "--unshare-ipc", "--unshare-uts", "--hostname", "localhost", "--die-with-parent",
        "--info-fd", str(info_fd), "--clearenv",
        "--ro-bind", str(HOST_USR), "/usr",
        "--ro-bind", str(HOST_USR), f"{INSIDE}/host/usr",
        "--bind", str(disk_root / USR_LOCAL), "/usr/local",
        "--proc", "/proc", "--dev", "/dev",
    ]
    for top in DISK_TOP_LEVEL:
        argv += ["--bind", str(disk_root / top), f"/{top}"]
    for name, target in sorted(DISK_TOP_SYMLINKS.items()):
        argv += ["--symlink", target, f"/{name}"]
    # The dynamic loader and the host tools' libraries live under /usr on a merged-/usr host.
    for name in ("lib", "lib64", "lib32", "libx32"):
        if (Path("/") / name).exists():
            argv += ["--symlink", f"usr/{name}", f"/{name}"]
    for mac_dir in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/libexec"):
        argv += ["--ro-bind", str(runtime.command_dir(mac_dir)), mac_dir]
    argv += [
        "--ro-bind", str(runtime.root / "bin"), f"{INSIDE}/bin",
        "--ro-bind", str(runtime.root / "lib"), f"{INSIDE}/lib",
        "--bind", str(runtime.run), f"{INSIDE}/run",
    ]
    for host, inside in ro_binds:
        argv += ["--ro-bind", str(host), inside]
    argv += [
        "--remount-ro", "/",
        "--chdir", "/",
    ]
    return argv + ["--"] + command
