"""The puppet, facter and TCC models as a bootstrap meets them, with real bash in the sandbox."""
from __future__ import annotations

import plistlib

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
