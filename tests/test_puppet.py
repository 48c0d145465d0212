"""The puppet, facter and TCC models as a bootstrap meets them, with real bash in the sandbox."""
from __future__ import annotations

import plistlib

import pytest

from harness import Machine, MachineConfig
from harness.mac.confine import set_free_space, usage
from harness.fleet import TCC_DB
from harness.world.puppet import Apply, Puppet

APPLY = """
    #!/bin/bash
    cd /var/tmp
    FACTER_PUPPETIZING=true FACTER_puppet_role=gecko_t_osx_1500_m4 \\
        /opt/puppetlabs/bin/puppet apply --detailed-exitcodes ./manifests/ > /var/tmp/out 2>&1
    echo $? >> /var/tmp/status
    date +%s > /var/tmp/end
"""


def with_puppet(**options):
    def prepare(machine):
        Puppet(machine, script=b"#!/bin/bash\necho managed copy\n", **options).install()
    return prepare


def test_facter_reports_the_hosts_fqdn(mac):
    mac.run("""
        #!/bin/bash
        /opt/puppetlabs/bin/facter networking.fqdn > /var/tmp/fqdn
        [ -x /opt/puppetlabs/bin/puppet ] && echo executable > /var/tmp/x
    """, prepare=with_puppet())
    assert mac.read("/var/tmp/fqdn") == mac.machine.config.hostname + "\n"
    assert mac.read("/var/tmp/x") == "executable\n"


def test_an_apply_takes_its_simulated_time_and_records_its_facts(mac):
    mac.run(APPLY, prepare=with_puppet(applies=(Apply(exit_code=2, duration_s=300, tcc="ok"),)))
    assert mac.read("/var/tmp/status") == "2\n"
    assert int(mac.read("/var/tmp/end")) == mac.machine.clock.epoch_s + 300
    applied = mac.kinds("puppet-apply")[0].data
    assert applied["facts"] == {"FACTER_PUPPETIZING": "true", "FACTER_puppet_role": "gecko_t_osx_1500_m4"}
    assert applied["argv"] == ["/opt/puppetlabs/bin/puppet", "apply", "--detailed-exitcodes", "./manifests/"]
    assert applied["cwd"] == "/private/var/tmp"


def test_a_clean_m4_apply_installs_the_worker_runner_plist_and_a_copy_of_the_script(mac):
    mac.run(APPLY, prepare=with_puppet(applies=(Apply(exit_code=2, tcc="ok"),)))
    plist = plistlib.loads(mac.machine.disk.host_path(
        "/Library/LaunchDaemons/org.mozilla.worker-runner.plist").read_bytes())
    assert plist["KeepAlive"] == {"PathState": {"/var/tmp/semaphore/run-buildbot": True}}
    assert plist["RunAtLoad"] is False
    assert mac.read("/usr/local/bin/run-puppet.sh") == "#!/bin/bash\necho managed copy\n"
    # written, not loaded: launchd reads it at the next boot
    assert not [e for e in mac.kinds("job-loaded") if e.job == "org.mozilla.worker-runner"]


def test_without_a_tcc_database_puppet_prints_the_line_the_bootstrap_reboots_on(mac):
    mac.run(APPLY, prepare=with_puppet(applies=(Apply(exit_code=2),)))
    output = mac.read("/var/tmp/out")
    assert f'Error: unable to open database "{TCC_DB}": unable to open database file' in output
    assert mac.read("/var/tmp/status") == "6\n"
    assert not mac.exists("/Library/LaunchDaemons/org.mozilla.worker-runner.plist")


def test_the_tcc_database_appears_after_a_reboot_with_autologin_and_is_denied_to_a_daemon(mac):
    def prepare(machine):
        with_puppet(applies=(Apply(exit_code=0),))(machine)
        machine.disk.add_file("/usr/local/bin/boot.sh", """#!/bin/bash
if [ ! -f /var/tmp/rebooted ]; then touch /var/tmp/rebooted; shutdown -r now; exit; fi
/opt/puppetlabs/bin/puppet apply ./manifests/ > /var/tmp/out 2>&1
""", mode=0o755)
        machine.disk.add_file("/Library/LaunchDaemons/org.example.boot.plist", plistlib.dumps(
            {"Label": "org.example.boot", "ProgramArguments": ["/bin/bash", "/usr/local/bin/boot.sh"],
             "RunAtLoad": True}))
    mac.run(prepare=prepare)
    assert mac.result.boots == 2
    assert mac.exists(TCC_DB)
    assert mac.machine.disk.ownership.owner(TCC_DB) == ("cltbld", "staff")
    # a LaunchDaemon runs in launchd's system context: SIP denies it cltbld's database
    assert "authorization denied" in mac.read("/var/tmp/out")


def test_without_autologin_the_tcc_database_never_appears(mac):
    mac.run("""
        #!/bin/bash
        if [ ! -f /var/tmp/rebooted ]; then touch /var/tmp/rebooted; shutdown -r now; fi
    """, prepare=with_puppet(autologin=False))
    assert mac.result.boots == 2
    assert not mac.exists(TCC_DB)


def test_two_applies_at_once_are_marked_as_overlapping(mac):
    mac.run("""
        #!/bin/bash
        /opt/puppetlabs/bin/puppet apply a &
        /opt/puppetlabs/bin/puppet apply b
        wait
    """, prepare=with_puppet(applies=(Apply(exit_code=0, duration_s=100, tcc="ok"),)))
    assert sorted(e.data["overlapping"] for e in mac.kinds("puppet-apply")) == [False, True]


def test_an_apply_that_finds_the_disk_full_prints_puppets_error_and_fails(mac):
    """Its download takes the room there is and stays; the role's files find none; the apply exits
    with failures (6 after changes, 4 without) and an Error line, and the controller goes on.
    What it prints goes to the script-job's output: the full disk would refuse a file."""
    mac.run("""
        #!/bin/bash
        cd /var/tmp
        for n in 1 2; do
            /opt/puppetlabs/bin/puppet apply --detailed-exitcodes ./manifests/
            echo "status $?"
        done
    """, prepare=with_puppet(applies=(Apply(exit_code=2, tcc="ok", writes_mb=16), Apply(exit_code=0, tcc="ok"))),
            config=MachineConfig(disk_free_mb=8))
    printed = mac.machine.output().splitlines()
    assert [line for line in printed if line.startswith("status")] == ["status 6", "status 4"]
    errors = [line for line in printed if line.startswith("Error:")]
    assert errors[0].endswith("No space left on device @ io_write - /Library/Caches/puppet-downloads/apply-1.pkg")
    assert "No space left on device" in errors[1]
    assert 0 < mac.machine.disk.host_path("/Library/Caches/puppet-downloads/apply-1.pkg").stat().st_size < 16 << 20
    assert not mac.exists("/Library/LaunchDaemons/org.mozilla.worker-runner.plist")
    assert [e.data["clean"] for e in mac.kinds("puppet-apply-done")] == [False, False]


def test_on_a_full_disk_the_tcc_database_does_not_appear_and_the_mac_goes_on(tmp_path):
    machine = Machine(tmp_path / "mac", config=MachineConfig(disk_free_mb=1))
    puppet = Puppet(machine)
    puppet.install()
    set_free_space(machine.disk.root, 1 << 20)
    if not usage(machine.disk.root).capacity_bytes:
        pytest.skip("this host gives the disk no size (README: safety)")
    with pytest.raises(OSError, match="No space left on device"):  # filled until a write is refused
        machine.disk.add_file("/var/tmp/fill", bytes(4 << 20))
    machine.boots.count = 2  # a boot after the first, when cltbld's login makes the database
    puppet._tcc_at_boot()
    assert machine.disk.present(TCC_DB) is None
    assert not list(machine.trace.of_kind("tcc-database"))
