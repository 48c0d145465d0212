"""Reproduce a host: the collector read on a simulated Mac in a stuck state, its archive made into a
scenario, and that scenario's Mac compared with the first: the same files, owners, modes, override
database and git lock, and launchd loading (or refusing) the same jobs at boot."""
from __future__ import annotations

import dataclasses
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import macsim

from harness.errors import BadInput
from harness.scenarios import load_scenario, run_scenario
from harness.scenarios.build import build
from harness.scenarios.schema import Start, StartHow
from harness.tools.collector import SCRIPT
from harness.tools.fromhost import draft, read_archive

ROOT = Path(__file__).resolve().parents[1]
# Field failures that leave a host stuck: a disabled label, a root-owned semaphore directory, a
# stale bootstrap plist, a stale git lock, a checkout of another remote.
STUCK = ["field-bootstrap-disabled-override", "field-semaphore-dir-root-owned", "field-stale-bootstrap-plist",
         "field-stale-git-lock", "field-checkout-remote-changed"]
WRAPPER = "#!/bin/bash\n/bin/bash -s > /var/tmp/host.tgz <<'COLLECT_EOF'\n{script}COLLECT_EOF\n"


# The host field-bootstrap-disabled-override ends up as without the fix: the bootstrap's plist and
# copy on disk, and its label disabled in launchd's override database, so launchd never starts it.
DISABLED_LABEL = """
[scenario]
summary = "a registered bootstrap whose label an earlier unload -w left disabled"
applies_to = "reboot-survivable"

[[host.files]]
path = "/usr/local/sbin/ronin-puppet-bootstrap.sh"
content = "#!/bin/bash\\necho bootstrap\\n"
mode = "0755"

[[host.files]]
path = "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist"
content = "<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?>\\n<plist version=\\"1.0\\"><dict><key>Label</key><string>com.mozilla.ronin-puppet-bootstrap</string><key>ProgramArguments</key><array><string>/bin/bash</string><string>/usr/local/sbin/ronin-puppet-bootstrap.sh</string></array><key>RunAtLoad</key><true/></dict></plist>\\n"

[[host.files]]
path = "/private/var/db/com.apple.xpc.launchd/disabled.plist"
content = "<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?>\\n<plist version=\\"1.0\\"><dict><key>com.mozilla.ronin-puppet-bootstrap</key><true/></dict></plist>\\n"
"""


def collect(scenario, directory: Path) -> Path:
    """Runs the collector on the scenario's host, before anything else runs there."""
    host = dataclasses.replace(scenario, start=Start(StartHow.MDM_SCRIPT_JOB), events=())
    run = run_scenario(host, WRAPPER.format(script=SCRIPT.read_text()).encode(), "collect.sh", directory / "mac")
    archive = directory / "host.tgz"
    archive.write_bytes(run.machine.disk.host_path("/var/tmp/host.tgz").read_bytes())
    return archive


def from_host(archive: Path, directory: Path, name: str):
    made = draft(read_archive(archive), name, "none", "reboot-survivable")
    for relative, content in made.files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(content)
    path = directory / f"{name}.toml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(made.lines) + "\n")
    return load_scenario(path), made


def disk_of(scenario, directory: Path):
    return build(scenario, b"#!/bin/bash\n", "x.sh", directory).machine.disk


def boot_decisions(scenario, directory: Path) -> list[tuple]:
    """What launchd did with each plist at the first boot, nothing else started."""
    quiet = dataclasses.replace(scenario, start=Start(StartHow.NONE), events=())
    run = run_scenario(quiet, b"#!/bin/bash\n", "x.sh", directory)
    return sorted((e.kind, e.job, e.data.get("path"), e.data.get("disabled"), e.data.get("reason"))
                  for e in run.result.trace.events if e.boot == 1 and e.kind in ("job-loaded", "job-skipped"))


@pytest.mark.sandbox
@pytest.mark.parametrize("name", STUCK)
def test_the_round_trip_reproduces_a_stuck_host(tmp_path, name):
    original = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    round_trip(original, tmp_path, name)


@pytest.mark.sandbox
def test_the_round_trip_reproduces_a_label_left_disabled(tmp_path):
    path = tmp_path / "disabled-label.toml"
    path.write_text(DISABLED_LABEL)
    decisions = round_trip(load_scenario(path), tmp_path, "disabled-label")
    assert decisions == [("job-loaded", "com.mozilla.ronin-puppet-bootstrap",
                          "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist", True, None)]


def round_trip(original, tmp_path: Path, name: str) -> list[tuple]:
    """Collects the host, makes a scenario of it, compares both Macs; launchd's decisions at boot."""
    archive = collect(original, tmp_path / "collect")
    copy, made = from_host(archive, tmp_path / "scenarios", f"{name}-copy")
    first, second = disk_of(original, tmp_path / "a").snapshot(), disk_of(copy, tmp_path / "b").snapshot()
    kept = [entry for entry in read_archive(archive).entries if entry.kept in ("copied", "folder", "withheld")]
    assert kept, "the collector kept nothing"
    for entry in kept:
        assert entry.path in second, f"{entry.path}: on the host, not on the reproduced Mac"
        kind, mode, _, digest, owner, group = first[entry.path]
        again = second[entry.path]
        assert (again[0], again[1], again[4], again[5]) == (kind, mode, owner, group), entry.path
        if entry.kept == "copied":
            assert again[3] == digest, f"{entry.path}: its content differs"
    lock = "/opt/puppet_environments/mozilla-platform-ops/ronin_puppet/.git/index.lock"
    assert (lock in first) == (lock in second)
    decisions = boot_decisions(original, tmp_path / "c")
    assert decisions == boot_decisions(copy, tmp_path / "d")
    return decisions


SECRET = "s3cr3t-token-value"
SECRETS_HOST = f"""
[scenario]
summary = "a host with secrets where the collector looks"

[host]
vault = false

[[host.files]]
path = "/var/root/vault.yaml"
content = "token: {SECRET}\\n"
mode = "0600"

[[host.files]]
path = "/var/log/ronin-puppet-bootstrap.log"
content = "cloning with {SECRET}\\nlast line\\n"

[[host.files]]
path = "/Library/LaunchDaemons/org.example.job.plist"
content = "<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?>\\n<plist version=\\"1.0\\"><dict><key>Label</key><string>org.example.job</string><key>ProgramArguments</key><array><string>/usr/bin/true</string></array><key>EnvironmentVariables</key><dict><key>TOKEN</key><string>{SECRET}</string></dict></dict></plist>\\n"

[[host.files]]
path = "/var/root/.ssh/id_ed25519"
content = "-----BEGIN OPENSSH PRIVATE KEY-----\\n{SECRET}\\n"
mode = "0600"
"""


@pytest.mark.sandbox
def test_the_collector_keeps_no_secret(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(SECRETS_HOST)
    archive = collect(load_scenario(path), tmp_path)
    collected = read_archive(archive)
    withheld = {entry.path for entry in collected.entries if entry.kept == "withheld"}
    assert {"/private/var/root/vault.yaml", "/private/var/root/.ssh/id_ed25519", "/private/etc/kcpassword"} <= withheld
    with tarfile.open(archive) as tar:
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert SECRET.encode() not in everything
    assert collected.files["/private/var/log/ronin-puppet-bootstrap.log"] == b"cloning with ***\nlast line\n"
    assert b"<key>TOKEN</key><string>***</string>" in collected.files["/Library/LaunchDaemons/org.example.job.plist"]


def test_a_file_that_is_not_an_archive_is_bad_input(tmp_path):
    (tmp_path / "host.tgz").write_text("not a tar")
    with pytest.raises(BadInput, match="not a gzipped tar"):
        read_archive(tmp_path / "host.tgz")
    done = macsim("scenario", "from-host", str(tmp_path / "host.tgz"), "-o", str(tmp_path / "x.toml"))
    assert done.returncode == 2 and "not a gzipped tar" in done.stderr


def test_the_collector_is_bash_32_and_shellcheck_clean():
    assert subprocess.run(["shellcheck", "-s", "bash", str(SCRIPT)], capture_output=True).returncode == 0
    done = subprocess.run(["python", str(ROOT / "tools" / "check_bash32.py"), str(SCRIPT)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_macsim_collect_prints_the_collector():
    done = macsim("collect")
    assert done.returncode == 0 and done.stdout == SCRIPT.read_text()
