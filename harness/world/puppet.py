"""Puppet and facter as the fleet's Macs run them, and cltbld's TCC database.

Fakes: `/opt/puppetlabs/bin/puppet apply` and `/opt/puppetlabs/bin/facter` (links on the Mac's
disk to the shim client, so a script finds them where the fleet installs them), and the
appearance of `/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db`.

How it can fail, per apply (a `PuppetPlan`, the last entry repeating): a detailed exit code
(0, 2 success; 1, 4, 6 failure), `Error:` lines, a duration in simulated seconds, and the TCC
line. With `tcc = "auto"` the TCC database decides (ronin-context.md, field failures): absent →
`unable to open database "…/TCC.db": unable to open database file`; present but read from
launchd's system context (a LaunchDaemon, or an MDM script-job, run by the mdmclient daemon) on
a SIP-enabled host → `…: authorization denied`; present and read from an ssh session → fine.
The database appears at the first boot after the first one when autologin is configured;
without autologin it never does.

A successful apply (exit 0 or 2) leaves what the role's manifests install (data files in
`roles/`), including `/usr/local/bin/run-puppet.sh`, a copy of the script under test; each file
is written under a temporary name and renamed into place, as Puppet's file resource does. The
trace calls an apply clean only when it also printed no `Error:` line (the fleet's rule). Every
apply is in the trace with its arguments, cwd, whole environment, `FACTER_*` facts and PATH.

A full disk (the Mac's disk has a capacity, mac/confine.py): an apply may first download a
package of `writes_mb` MiB into `DOWNLOADS` (kept, as a package cache keeps it). A write that
finds no room fails as Puppet's resource would: an `Error: ... No space left on device` line, the
exit code of a run with failures (4, or 6 after changes), nothing more written; what the write
had put down stays. The TCC database cannot appear on a full disk either (tccd cannot write it).
"""
from __future__ import annotations

import plistlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..fleet import FACTER, PUPPET, TCC_DB
from ..mac.confine import NO_ROOM
from ..mac.sandbox import INSIDE
from ..mac.shims.calls import DEFERRED, Answer, Call, Commands, Mac

PUPPET_VERSION = "8.10.0"
#: Where an apply puts the packages it downloads (`writes_mb`): apply N writes apply-N.pkg.
DOWNLOADS = "/Library/Caches/puppet-downloads"
ROLES_DIR = Path(__file__).with_name("roles")
SUCCESS = (0, 2)


@dataclass(frozen=True)
class Apply:
    """What one `puppet apply` does (mirrors scenario.PuppetApply)."""

    exit_code: int = 0
    duration_s: float = 60.0
    output: tuple[str, ...] = ()
    tcc: str = "auto"  # auto | ok | missing | denied
    writes_mb: int = 0  # a package downloaded first into DOWNLOADS


@dataclass
class Puppet:
    """The puppet, facter and TCC models of one machine."""

    machine: Mac
    role_model: str = "m4"
    applies: tuple[Apply, ...] = (Apply(exit_code=2), Apply(exit_code=0))
    script: bytes = b""  # the script under test, which the role installs as run-puppet.sh
    autologin: bool = True
    sip: bool = True
    runs: int = 0
    running: int = 0  # applies in progress (more than one is an overlap)

    def install(self) -> None:
        """Puts puppet and facter on the Mac's disk and watches for the TCC database."""
        disk = self.machine.disk
        for path in (PUPPET, FACTER):
            disk.add_symlink(path, f"{INSIDE}/bin/macsim")
        self.machine.at_boot(self._tcc_at_boot)
        commands = Commands()
        commands.add("puppet", self._puppet_command)
        commands.add("facter", self._facter_command)
        self.machine.add_commands(commands)

    def _tcc_at_boot(self) -> None:
        self.running = 0  # an apply cut short by the reboot is over
        # cltbld auto-logs in at a boot after enrolment; its TCC daemon then makes the database.
        if self.autologin and self.machine.boot_count >= 2 and self.machine.inside_path(TCC_DB) is None:
            disk = self.machine.disk
            disk.add_dir("/Users/cltbld/Library/Application Support/com.apple.TCC", owner="cltbld",
                         group="staff", mode=0o700)
            try:
                disk.add_file(TCC_DB, b"SQLite format 3\0", owner="cltbld", group="staff", mode=0o644)
            except OSError as error:
                if error.errno not in NO_ROOM:
                    raise
                disk.host_path(TCC_DB).unlink(missing_ok=True)  # tccd cannot write it: maybe at a later boot
                return
            self.machine.event("tcc-database", path=TCC_DB, change="created")

    # -- puppet apply --

    def apply(self, call: Call):
        plan = self.applies[min(self.runs, len(self.applies) - 1)]
        self.runs += 1
        number = self.runs
        facts = {k: v for k, v in sorted(call.env.items()) if k.startswith("FACTER_")}
        overlapping = self.running > 0
        self.running += 1
        self.machine.event("puppet-apply", pid=call.pid, job=call.job, number=number, argv=call.argv,
                           cwd=call.cwd, facts=facts, path=call.env.get("PATH", ""), env=dict(sorted(call.env.items())),
                           overlapping=overlapping)
        tcc = self._tcc_outcome(plan.tcc, call.job)
        status, output = self._outcome(plan, tcc)

        def finish() -> None:
            self.running -= 1
            failed = self._write(number, plan.writes_mb, status in SUCCESS)
            final, printed = (status, output) if failed is None else self._no_room(status, output, failed)
            # Clean as the fleet defines it: a success code and no "Error:" line. The role's
            # resources are in place after any successful run, even one that printed errors.
            clean = final in SUCCESS and not any(line.startswith("Error:") for line in printed)
            self.machine.event("puppet-apply-done", pid=call.pid, job=call.job, number=number,
                               status=final, tcc=tcc, clean=clean)
            call.reply(Answer(final, "".join(line + "\n" for line in printed)))

        self.machine.clock.call_later(plan.duration_s, f"puppet apply {number}", finish)
        return DEFERRED

    def _tcc_outcome(self, wanted: str, job: str | None) -> str:
        if wanted != "auto":
            return wanted
        if self.machine.inside_path(TCC_DB) is None:
            return "missing"
        # Only an operator's session (ssh, Bolt) carries a user-session TCC context.
        system_context = not (job or "").endswith("-session")
        return "denied" if system_context and self.sip else "ok"

    def _outcome(self, plan: Apply, tcc: str) -> tuple[int, list[str]]:
        fqdn = self.machine.config.hostname
        lines = [f"Notice: Compiled catalog for {fqdn} in environment production in 2.41 seconds"]
        lines += list(plan.output)
        status = plan.exit_code
        if tcc in ("missing", "denied"):
            reason = "unable to open database file" if tcc == "missing" else "authorization denied"
            lines.append("Error: /Stage[main]/Macos_tcc_perms/Exec[tcc_perms]/returns: change from "
                         f"'notrun' to ['0'] failed: Error: unable to open database \"{TCC_DB}\": {reason}")
            status = 6 if status == 2 else (status if status in (1, 4, 6) else 4)
        lines.append(f"Notice: Applied catalog in {plan.duration_s:.2f} seconds")
        return status, lines

    def _write(self, number: int, download_mb: int, role: bool) -> str | None:
        """The apply's writes: its download, then (`role`) the role's files. None when all fit,
        else the macOS path of the write that found no room."""
        target = f"{DOWNLOADS}/apply-{number}.pkg"
        try:
            if download_mb:
                self.machine.disk.add_file(target, bytes(download_mb << 20))
            if role:
                self._apply_role()
        except OSError as error:
            if error.errno not in NO_ROOM:
                raise
            return self._mac_path(error.filename) or target
        return None

    def _mac_path(self, host: str | None) -> str | None:
        try:
            return self.machine.disk.mac_path(Path(host)) if host else None
        except ValueError:
            return None

    def _no_room(self, status: int, output: list[str], path: str) -> tuple[int, list[str]]:
        """What Puppet prints and exits with when a file resource finds the disk full."""
        error = (f"Error: /Stage[main]/Packages/File[{path}]/ensure: change from 'absent' to 'file' failed: "
                 f"Could not set 'file' on ensure: No space left on device @ io_write - {path}")
        final = 6 if status == 2 else 4 if status == 0 else status
        return final, [*output[:-1], error, *output[-1:]]

    def _apply_role(self) -> None:
        role = tomllib.loads((ROLES_DIR / f"{self.role_model}.toml").read_text())
        disk = self.machine.disk
        written = []
        for item in role.get("files", []):
            if "link" in item:
                existing = disk.host_path(item["path"], follow_last=False)
                if existing.is_symlink():  # puppet manages it: a second apply changes nothing
                    existing.unlink()
                disk.add_symlink(item["path"], item["link"])
                written.append(item["path"])
                continue
            if "plist" in item:
                content = plistlib.dumps(item["plist"], sort_keys=True)
            elif item.get("from") == "script-under-test":
                content = self.script
            else:
                content = item["content"].encode()
            disk.add_file(item["path"], content, mode=int(item.get("mode", "0644"), 8), atomic=True)
            written.append(item["path"])
        self.machine.event("puppet-role-applied", role_model=self.role_model, files=written)

    # -- facter --

    def fact(self, name: str) -> str | None:
        config = self.machine.config
        facts = {"networking.fqdn": config.hostname, "networking.hostname": config.hostname.split(".")[0],
                 "networking.domain": config.hostname.partition(".")[2],
                 "os.name": "Darwin", "os.family": "Darwin", "os.macosx.version.full": config.macos_version,
                 "os.macosx.build": config.build_version, "kernelrelease": config.kernel_release}
        return facts.get(name)

    # -- the commands --

    def _puppet_command(self, call: Call):
        if call.args[:1] == ["apply"]:
            return self.apply(call)
        if call.args in (["--version"], ["-V"]):
            return Answer(0, PUPPET_VERSION + "\n")
        return Answer(127, "", f"not simulated: puppet {' '.join(call.args)}\n")

    def _facter_command(self, call: Call):
        names = [a for a in call.args if not a.startswith("-")]
        if not names:
            return Answer(127, "", "not simulated: facter without a fact name\n")
        values = [self.fact(name) for name in names]
        if len(names) == 1:
            return Answer(0, (values[0] or "") + "\n")
        return Answer(0, "".join(f"{n} => {v or ''}\n" for n, v in zip(names, values)))
