"""`macsim scenario from-host host.tgz -o scenarios/field-NAME.toml`: a scenario whose host is a real one.

The archive is what `macsim collect`'s script gathered on the Mac (collector.sh). The scenario's
`[host]` is that disk as far as macsim can reproduce it: macOS's version, the host name, the role,
autologin, Remote Login, the vault's presence, puppet's presence, the puppet checkout (its remote,
branch, commits fetched but not applied, local changes, a stale index.lock), and every file and
folder the collector kept, with its owner, group and mode (the override database and the
LaunchDaemon plists among them). The files go beside the scenario, in files/NAME/. What cannot
be reproduced (secrets, runtime state, what the host never saw) is listed at the top of the
scenario and printed. `[expect]` is left to fill in; the invariants check every run.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import fleet
from ..errors import BadInput
from ..fleet import CONTRACTS
from ..scenarios.schema import DARWIN_MAJOR
from .options import not_existing

EXIT_OK, EXIT_USAGE = 0, 2
#: Paths the collector keeps that the scenario expresses with keys of its own, not as files.
AS_KEYS = {"/private/etc/puppet_role", fleet.LOGINWINDOW, "/private/var/root/vault.yaml",
           "/private/etc/kcpassword"}
#: Folders of a fresh macOS disk, as it makes them: recreating them is not needed.
FRESH = {"/Library/LaunchDaemons": ("root", "wheel", 0o755)}
TCC_PLACEHOLDER = "SQLite format 3"
STARTS = {"mdm": "mdm-script-job", "ssh": "ssh", "daemon": "none", "none": "none"}
SCRIPT_COPIES = {fleet.BOOTSTRAP_COPY, "/usr/local/bin/run-puppet.sh"}


@dataclass(frozen=True)
class Entry:
    """One line of the collector's MANIFEST."""

    kind: str  # "Regular File", "Directory", "Symbolic Link", "Program"
    mode: int
    owner: str
    group: str
    size: int
    kept: str  # copied, withheld, folder, tail, present, "link TARGET"
    path: str


@dataclass
class Collected:
    entries: list[Entry]
    files: dict[str, bytes]  # mac path -> content, for what the collector copied
    commands: dict[str, str]  # cmd/NAME.txt -> text

    def entry(self, path: str) -> Entry | None:
        return next((e for e in self.entries if e.path == path), None)

    def command(self, name: str) -> str:
        return self.commands.get(name, "")


def read_archive(path: Path) -> Collected:
    """The archive's manifest, kept files and command outputs; BadInput when it is not one."""
    try:
        archive = tarfile.open(path, "r:gz")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file; expected the archive `sudo bash collect.sh > host.tgz` wrote") from None
    except (tarfile.TarError, OSError) as error:
        raise BadInput(f"{path}: not a gzipped tar ({error}); expected what `sudo bash collect.sh > host.tgz` "
                       "wrote (a collector that failed writes nothing: see its stderr)") from None
    with archive:
        names = set(archive.getnames())
        if "host/MANIFEST" not in names:
            raise BadInput(f"{path}: no host/MANIFEST inside; expected an archive from `macsim collect`'s script")
        entries = [_entry(line, path, number) for number, line in
                   enumerate(archive.extractfile("host/MANIFEST").read().decode("utf-8", "replace").splitlines(), 1)
                   if line.strip()]
        files, commands = {}, {}
        for member in archive.getmembers():
            if not member.isfile():
                continue
            if member.name.startswith("host/files/"):
                files[member.name[len("host/files"):]] = archive.extractfile(member).read()
            elif member.name.startswith("host/cmd/") and member.name.endswith(".txt"):
                commands[member.name[len("host/cmd/"):-len(".txt")]] = \
                    archive.extractfile(member).read().decode("utf-8", "replace")
    return Collected(entries, files, commands)


def _entry(line: str, path: Path, number: int) -> Entry:
    parts = line.split("\t")
    if len(parts) != 7 or not parts[1].isdigit() or not parts[4].isdigit():
        raise BadInput(f"{path}: host/MANIFEST:{number}: expected 7 tab-separated fields (kind, mode, owner, "
                       f"group, size, kept, path), found {line!r}")
    kind, mode, owner, group, size, kept, mac = parts
    return Entry(kind, int(mode, 8), owner, group, int(size), kept, mac)


@dataclass
class Draft:
    """The scenario being written: its TOML lines, the files beside it, what it cannot reproduce."""

    lines: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # relative to the scenario's folder
    notes: list[str] = field(default_factory=list)


def draft(collected: Collected, name: str, start: str, applies_to: str) -> Draft:
    out = Draft()
    host = _host_name(collected)
    summary = f"TODO: what went wrong on {host or 'the host'}, and what must hold once it is fixed"
    reproduces = f"host {host or '(unknown)'}, collected with macsim collect"
    out.lines += ["[scenario]", f"name = {_q(name)}", f"summary = {_q(summary)}", f"reproduces = {_q(reproduces)}",
                  f"applies_to = {_q(applies_to)}", ""]
    out.lines += ["[host]", *_host_keys(collected, host, out)]
    _checkout(collected, out)
    _files(collected, name, start, out)
    out.lines += ["", "[start]", f"how = {_q(STARTS[start])}"]
    if start == "daemon":
        out.notes.append("--start daemon: the host's own LaunchDaemon plists start the script at boot; its "
                         "script copies are the script under test")
    out.lines += ["", "# What must hold once the failure is fixed: fill it in. The invariants check every run.",
                  "[expect]"]
    out.notes.append("launchd's runtime state (pids, runs, last exit codes) is not reproduced: at the first boot "
                     "launchd loads the plists on disk, as after a reboot")
    if any(entry.kept == "withheld" for entry in collected.entries):
        out.notes.append("the vault's content, TCC databases, ssh keys and kcpassword were withheld on the host: "
                         "the scenario has macsim's stand-ins (present, with the same owner and mode)")
    if "path " in collected.command("checkout"):
        out.notes.append("commits pushed since the host's last fetch cannot be seen from the host: add behind = N "
                         "to [host.checkout] if the remote had moved on")
    header = ["# Made by macsim scenario from-host. Not reproduced:"] + [f"#  - {note}" for note in out.notes]
    out.lines = header + [""] + out.lines
    return out


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _host_name(collected: Collected) -> str:
    name = collected.command("hostname").strip()
    return name if re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", name) else ""


def _host_keys(collected: Collected, host: str, out: Draft) -> list[str]:
    keys = []
    versions = dict(line.split(":", 1) for line in collected.command("sw_vers").splitlines() if ":" in line)
    version, build = versions.get("ProductVersion", "").strip(), versions.get("BuildVersion", "").strip()
    if version and int(version.split(".")[0]) in DARWIN_MAJOR and build:
        keys += [f"macos_version = {_q(version)}", f"build_version = {_q(build)}"]
    else:
        out.notes.append(f"macOS {version or '(unknown)'} {build}: not a version macsim knows; the default is used")
    if host and "." in host:
        keys.append(f"hostname = {_q(host)}")
    elif host:
        out.notes.append(f"host name {host!r} has no domain: the default FQDN is used")
    role = collected.files.get("/private/etc/puppet_role", b"").decode("utf-8", "replace").strip()
    if re.fullmatch(r"[a-z][a-z0-9_]*", role):
        keys.append(f"role = {_q(role)}")
    else:
        keys.append("role = false")
        if role:
            out.notes.append(f"/etc/puppet_role holds {role!r}, not a role name: the scenario has none")
    autologin = (collected.command("autologin").strip() == fleet.AUTOLOGIN_USER
                 and collected.entry("/private/etc/kcpassword") is not None)
    keys.append(f"autologin = {'true' if autologin else 'false'}")
    keys.append(f"remote_login = {'true' if 'Remote Login: On' in collected.command('remote-login') else 'false'}")
    keys.append(f"vault = {'true' if collected.entry('/private/var/root/vault.yaml') else 'false'}")
    installed = all(collected.entry(tool) for tool in (fleet.PUPPET, fleet.FACTER))
    keys.append(f"puppet_installed = {'true' if installed else 'false'}")
    return keys


def _checkout(collected: Collected, out: Draft) -> None:
    facts: dict[str, list[str]] = {}
    for line in collected.command("checkout").splitlines():
        key, _, value = line.partition(" ")
        facts.setdefault(key, []).append(value)
    if not facts.get("path"):
        return
    if len(facts["path"]) > 1:
        out.notes.append(f"{len(facts['path'])} checkouts on the host: only {facts['path'][0]} is reproduced")
    path, remote = facts["path"][0], facts.get("remote", [""])[0]
    out.lines += ["", "[host.checkout]"]
    if path != fleet.CHECKOUT:
        out.lines.append(f"path = {_q(path)}")
    if "***@" in remote or not remote.startswith("https://github.com/"):
        out.notes.append(f"the checkout's remote {remote!r} is not a GitHub https URL macsim can serve "
                         "(or its credentials were masked): the fleet's repository stands in")
    elif remote != f"https://github.com/{fleet.RONIN_REPOSITORY}.git":
        out.lines.append(f"remote = {_q(remote)}")
    branch = facts.get("branch", ["master"])[0] or "master"
    if branch != "master":
        out.lines.append(f"branch = {_q(branch)}")
    behind = facts.get("behind", ["0"])[0]
    if behind.isdigit() and int(behind):
        out.lines.append(f"behind = {behind}")
    if facts.get("changed", ["0"])[0] not in ("", "0"):
        out.lines.append("local_changes = true")
        out.notes.append("the checkout's local changes are reproduced as one changed file, not as they were")
    locks = facts.get("lock", [])
    if ".git/index.lock" in locks:
        out.lines.append("index_lock = true")
    others = [lock for lock in locks if lock != ".git/index.lock"]
    if others:
        out.notes.append(f"stale git locks other than .git/index.lock are not reproduced: {', '.join(others)}")


def _files(collected: Collected, name: str, start: str, out: Draft) -> None:
    checkouts = {line[len("path "):] for line in collected.command("checkout").splitlines() if line.startswith("path ")}
    for entry in sorted(collected.entries, key=lambda e: (e.path.count("/"), e.path)):
        if entry.path in AS_KEYS or entry.kind == "Program" or entry.path in checkouts:
            continue
        if entry.path.startswith(("/private/tmp/", "/private/var/run/")):
            continue
        lines = [f"path = {_q(entry.path)}"]
        if entry.kept == "folder":
            if FRESH.get(entry.path) == (entry.owner, entry.group, entry.mode):
                continue
            lines.append("directory = true")
        elif entry.kept in ("copied", "tail"):
            if start == "daemon" and entry.path in SCRIPT_COPIES:
                lines.append("script_under_test = true")
            else:
                relative = f"files/{name}{entry.path}"
                out.files[relative] = collected.files.get(entry.path, b"")
                lines.append(f"content_file = {_q(relative)}")
            if entry.kept == "tail":
                out.notes.append(f"{entry.path}: only the last lines the collector kept")
        elif entry.kept == "withheld":
            if entry.path == fleet.TCC_DB:
                lines.append(f"content = {_q(TCC_PLACEHOLDER)}")
            elif entry.kind == "Directory":
                lines.append("directory = true")
        elif entry.kept.startswith("link "):
            out.notes.append(f"{entry.path}: a symbolic link to {entry.kept[5:]}: not reproduced (launchd "
                             "does not load a linked plist at boot)")
            continue
        lines += [f"owner = {_q(entry.owner)}", f"group = {_q(entry.group)}", f"mode = {_q(format(entry.mode, '04o'))}"]
        out.lines += ["", "[[host.files]]", *lines]


def add_commands(subparsers) -> None:
    scenario = subparsers.add_parser("scenario", help="make scenario files (from a host the collector read)",
                                     description="Make scenario files.")
    verbs = scenario.add_subparsers(dest="scenario_command", metavar="SUBCOMMAND", required=True)
    from_host = verbs.add_parser(
        "from-host", help="a scenario whose host is the one `macsim collect`'s script read",
        description="Writes a scenario whose [host] is the collected disk (files with their owners and "
                    "modes, the override database, the role, TCC's presence, autologin, Remote Login, the "
                    "puppet checkout), its files in files/NAME/ beside it, a summary to fill in, and what it "
                    "could not reproduce (at its top, and printed).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from_host.add_argument("archive", type=Path, metavar="host.tgz")
    from_host.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                           help="the scenario to write, e.g. scenarios/field-NAME.toml (it must not exist)")
    from_host.add_argument("--start", choices=sorted(STARTS), default="mdm",
                           help="how the script under test starts: MDM's script-job (default), an ssh session, "
                                "the host's own daemon (its copies become the script under test), or nothing")
    from_host.add_argument("--applies-to", choices=CONTRACTS, default=CONTRACTS[-1],
                           help=f"whom the scenario binds (default: {CONTRACTS[-1]})")


def main(args: argparse.Namespace) -> int:
    output: Path = args.output
    try:
        not_existing(output, "-o")
        if output.suffix != ".toml":
            raise BadInput(f"-o {output}: expected a scenario file name ending in .toml, e.g. "
                           "scenarios/field-NAME.toml")
        name = output.stem
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise BadInput(f"-o {output}: the file name is the scenario's name: lowercase letters, digits and "
                           "dashes, e.g. field-stuck-semaphore.toml")
        made = draft(read_archive(args.archive), name, args.start, args.applies_to)
        beside = [output.parent / relative for relative in made.files]
        for path in beside:
            not_existing(path, "a file beside the scenario")
    except BadInput as error:
        print(f"macsim: {error}", file=sys.stderr)
        return EXIT_USAGE
    for path, content in zip(beside, made.files.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(made.lines) + "\n")
    print(f"wrote {output} ({len(made.files)} file(s) in {output.parent / 'files' / name})")
    print("not reproduced:\n" + "\n".join(f"  - {note}" for note in made.notes))
    print(f"next: fill in its summary and [expect], then `macsim run {output}`")
    return EXIT_OK

