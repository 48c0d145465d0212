"""ssh to this Mac itself (`ssh root@localhost CMD`): the command runs in an ssh session.

Why it matters: a process started by launchd has no user-session TCC context, so puppet run
from a LaunchDaemon is denied cltbld's TCC database on a SIP-enabled host; the same command run
over ssh inherits sshd's grants and works (macos-behaviour.md §12.2). A bootstrap that runs
from launchd therefore routes its apply through `ssh root@localhost`.

What is modelled, as OpenSSH on macOS does it: Remote Login must be on (a machine parameter)
or the connection is refused; the host key is checked against the caller's known_hosts
(StrictHostKeyChecking: no TTY means "ask" fails, "accept-new" and "no" add it); only public-key
authentication works (no TTY for a password): one of the caller's identities (-i, IdentityFile,
or ~/.ssh/id_*) must have its public key in the target user's ~/.ssh/authorized_keys. Then the
client becomes the target user's shell running the command (`SHELL -c "ARGS..."`), with
sshd's environment (PATH=/usr/bin:/bin:/usr/sbin:/sbin, HOME, USER, LOGNAME, SHELL, MAIL,
SSH_CLIENT, SSH_CONNECTION, and LANG/LC_* passed on as macOS's SendEnv/AcceptEnv do), in the
job "ssh-session". Failures print OpenSSH's messages and exit 255.

Not modelled: ssh to any other host (it fails as not simulated), password or keyboard
authentication, sshd's StrictModes checks on file modes, port forwarding, a TTY (-t).
"""
from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field

from .calls import Answer, Call, Commands, Exec

COMMANDS = Commands()

SESSION_JOB = "ssh-session"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk")
SESSION_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
_FLAGS = set("46AaCfGgKkMNnqsTtVvXxYy")
_WITH_VALUE = set("BbcDEeFIiJLlmOoPpQRSWw")
USAGE = ("usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n"
         "           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n"
         "           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n"
         "           [-J destination] [-L address] [-l login_name] [-m mac_spec]\n"
         "           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n"
         "           [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n"
         "           destination [command [argument ...]]\n")


@dataclass
class Request:
    destination: str = ""
    login: str | None = None
    identities: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    command: list[str] = field(default_factory=list)


def parse(args: list[str]) -> Request | str:
    """The request, or the usage error ssh prints."""
    request, rest = Request(), list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        arg = rest.pop(0)
        if arg == "--":
            break
        index = 1
        while index < len(arg):
            letter = arg[index]
            if letter in _FLAGS:
                request.quiet = request.quiet or letter == "q"
                index += 1
                continue
            if letter not in _WITH_VALUE:
                return f"ssh: illegal option -- {letter}\n{USAGE}"
            value = arg[index + 1:] or (rest.pop(0) if rest else None)
            if value is None:
                return f"ssh: option requires an argument -- {letter}\n{USAGE}"
            if letter == "i":
                request.identities.append(value)
            elif letter == "l":
                request.login = value
            elif letter == "o":
                key, _, option_value = value.replace("=", " ", 1).partition(" ")
                request.options.setdefault(key.strip().lower(), option_value.strip())
            break
    if not rest:
        return USAGE
    request.destination, request.command = rest[0], rest[1:]
    request.identities += [request.options["identityfile"]] if "identityfile" in request.options else []
    return request


def host_key(hostname: str) -> str:
    """This Mac's ED25519 host key as known_hosts shows it (stable for a host name)."""
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAI" + hashlib.sha256(hostname.encode()).hexdigest()[:43]
    return f"ssh-ed25519 {blob}"


@COMMANDS.handles("ssh")
def ssh(call: Call):
    request = parse(call.args)
    if isinstance(request, str):
        return Answer(255, "", request)
    user, _, host = request.destination.rpartition("@")
    user = user or request.login or call.user
    machine, disk = call.machine, call.machine.disk
    if host not in (*LOCAL_NAMES, machine.config.hostname, machine.config.hostname.split(".")[0]):
        if not machine.network.up():
            return Answer(255, "", f"ssh: Could not resolve hostname {host}: nodename nor servname "
                                   "provided, or not known\n")
        machine.event("not-simulated", pid=call.pid, job=call.job, name="ssh", argv=call.argv, cwd=call.cwd)
        return Answer(127, "", f"not simulated: ssh to {host} (only this Mac is modelled)\n")
    if not machine.config.remote_login:
        return Answer(255, "", f"ssh: connect to host {host} port 22: Connection refused\n")
    caller = disk.accounts.account(call.user)
    caller_home = caller.home if caller else "/var/root"
    refused, warning = _check_host_key(call, request, host, caller_home)
    if refused:
        return Answer(255, "", refused)
    target = disk.accounts.account(user)
    if target is None or not _authorized(call, request, caller_home, target.home):
        return Answer(255, "", f"{user}@{host}: Permission denied (publickey,password,keyboard-interactive).\n")
    env = {"PATH": SESSION_PATH, "HOME": target.home, "USER": target.name, "LOGNAME": target.name,
           "SHELL": target.shell, "MAIL": f"/var/mail/{target.name}",
           "SSH_CLIENT": "127.0.0.1 50022 22", "SSH_CONNECTION": "127.0.0.1 50022 127.0.0.1 22"}
    env.update({k: v for k, v in call.env.items() if k == "LANG" or k.startswith("LC_")})
    machine.set_user(call.pid, target.name)
    machine.enter_context(call.host_pid, SESSION_JOB)
    shell = target.shell
    name = shell.rsplit("/", 1)[-1]
    if not request.command:
        warning += "Pseudo-terminal will not be allocated because stdin is not a terminal.\n"
        return Exec(shell, [name], env, stderr=warning)
    return Exec(shell, [name, "-c", " ".join(request.command)], env, stderr=warning)


def _check_host_key(call: Call, request: Request, host: str, home: str) -> tuple[str, str]:
    """(the error ssh prints, or "" when this host's key is known or may be added; a warning)."""
    key = host_key(call.machine.config.hostname)
    path = request.options.get("userknownhostsfile", "~/.ssh/known_hosts").replace("~", home, 1)
    known = call.machine.inside_path(path, call.cwd)
    lines = known.read_text(errors="replace").splitlines() if known is not None and known.is_file() else []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and host in fields[0].split(","):
            if " ".join(fields[1:3]) == key:
                return "", ""
            if len(fields[2]) != len(key.split()[1]):
                continue  # not a whole key (a line cut short): ssh skips what it cannot parse
            return ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                    f"Host key for {host} has changed and you have requested strict checking.\n"
                    "Host key verification failed.\n"), ""
    strict = request.options.get("stricthostkeychecking", "ask").lower()
    if strict not in ("no", "off", "accept-new"):
        return "Host key verification failed.\n", ""
    target = call.machine.inside_path(path.rsplit("/", 1)[0], call.cwd)
    if target is None or not target.is_dir():
        return "", ""  # ssh cannot record it, and goes on
    with (target / path.rsplit("/", 1)[1]).open("a") as out:
        out.write(f"{host} {key}\n")
    quiet = request.quiet or request.options.get("loglevel", "").upper() in ("QUIET", "FATAL", "ERROR")
    return "", "" if quiet else f"Warning: Permanently added '{host}' (ED25519) to the list of known hosts.\n"


def _authorized(call: Call, request: Request, caller_home: str, target_home: str) -> bool:
    keys_file = call.machine.inside_path(f"{target_home}/.ssh/authorized_keys")
    if keys_file is None or not keys_file.is_file():
        return False
    allowed = {blob for line in keys_file.read_text(errors="replace").splitlines()
               if (blob := _key_blob(line))}
    identities = request.identities or [f"~/.ssh/{name}" for name in DEFAULT_IDENTITIES]
    for identity in identities:
        private = call.machine.inside_path(identity.replace("~", caller_home, 1), call.cwd)
        if private is None or not private.is_file():
            continue
        if _public_blob(private) in allowed:
            return True
    return False


def _key_blob(line: str) -> str | None:
    """The base64 key of an authorized_keys or .pub line (options before the type allowed)."""
    fields = line.split()
    for index, word in enumerate(fields[:-1]):
        if word.startswith(("ssh-", "ecdsa-", "sk-")):
            return fields[index + 1]
    return None


def _public_blob(private) -> str | None:
    """The public half of a private key file, as ssh derives it (the .pub file plays no part);
    None for a file ssh cannot read as a key (empty, cut short, encrypted)."""
    derived = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(private)],
                             capture_output=True, text=True, check=False)
    return _key_blob(derived.stdout) if derived.returncode == 0 else None
