"""Each invariant catches the defect it is named for, in a real run of a small broken bootstrap."""
from __future__ import annotations

import plistlib

from harness import Limits
from harness.scenarios.invariants import check

PLIST = "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist"
DAEMON = plistlib.dumps({"Label": "com.mozilla.ronin-puppet-bootstrap", "RunAtLoad": True,
                         "ProgramArguments": ["/bin/bash", "/usr/local/sbin/ronin-puppet-bootstrap.sh"]})


def names(mac) -> list[str]:
    return [v.invariant for v in check(mac.result.trace.events)]


def test_a_semaphore_written_before_any_clean_apply_is_caught(mac):
    mac.run("""
        #!/bin/bash
        mkdir -p /var/tmp/semaphore && touch /var/tmp/semaphore/run-buildbot
    """)
    assert "semaphore-truthful" in names(mac)


def test_a_plist_launchd_would_refuse_is_caught_with_the_rule(mac):
    mac.run("""
        #!/bin/bash
        printf '%s' '<plist version="1.0"><dict><key>Label</key><string>x</string><key>Program</key><string>/bin/true</string></dict></plist>' > /Library/LaunchDaemons/x.plist
        chmod 666 /Library/LaunchDaemons/x.plist
    """)
    (violation,) = [v for v in check(mac.result.trace.events) if v.invariant == "launchd-accepts"]
    assert "group- or world-writable" in violation.message
    assert violation.boot == 1 and violation.step is not None


def test_a_bootstrap_that_reboots_at_every_boot_is_a_reboot_loop(mac):
    def prepare(machine):
        machine.disk.add_file("/usr/local/sbin/ronin-puppet-bootstrap.sh", "#!/bin/bash\nshutdown -r now\n", mode=0o755)
        machine.disk.add_file(PLIST, DAEMON)
    mac.run(prepare=prepare, limits=Limits(boots=8, real_s=60))
    assert "no-reboot-loop" in names(mac)


def test_removing_the_bootstrap_before_the_handover_strands_the_host(mac):
    def prepare(machine):
        machine.disk.add_file("/usr/local/sbin/ronin-puppet-bootstrap.sh",
                              f"#!/bin/bash\nrm -f {PLIST}\nshutdown -r now\n", mode=0o755)
        machine.disk.add_file(PLIST, DAEMON)
    mac.run(prepare=prepare)
    assert "never-stranded" in names(mac)


def test_worker_runner_without_its_semaphore_does_not_count_as_something_that_runs_puppet(mac):
    # It is KeepAlive on the semaphore's path, RunAtLoad false: with the bootstrap gone and no
    # semaphore, nothing will run run-puppet.sh again.
    worker_runner = plistlib.dumps({"Label": "org.mozilla.worker-runner", "RunAtLoad": False,
                                    "ProgramArguments": ["/usr/local/bin/worker-runner.sh"],
                                    "KeepAlive": {"PathState": {"/var/tmp/semaphore/run-buildbot": True}}})

    def prepare(machine):
        machine.disk.add_file("/Library/LaunchDaemons/org.mozilla.worker-runner.plist", worker_runner)
        machine.disk.add_file("/usr/local/sbin/ronin-puppet-bootstrap.sh",
                              f"#!/bin/bash\nrm -f {PLIST}\nshutdown -r now\n", mode=0o755)
        machine.disk.add_file(PLIST, DAEMON)
    mac.run(prepare=prepare)
    (violation,) = [v for v in check(mac.result.trace.events) if v.invariant == "never-stranded"]
    assert ("org.mozilla.worker-runner.plist is on disk but waits for the semaphore /var/tmp/semaphore/run-buildbot, "
            "which is not there") in violation.message


def test_two_puppet_applies_at_once_are_an_overlap(mac):
    from harness.world.puppet import Apply, Puppet

    def prepare(machine):
        Puppet(machine, applies=(Apply(exit_code=0, duration_s=60, tcc="ok"),)).install()
    mac.run("""
        #!/bin/bash
        /opt/puppetlabs/bin/puppet apply a & /opt/puppetlabs/bin/puppet apply b; wait
    """, prepare=prepare)
    assert "no-overlap" in names(mac)


def test_a_clean_handover_satisfies_every_invariant(mac):
    def prepare(machine):
        machine.disk.add_file("/Library/LaunchDaemons/com.mozilla.periodic.plist", plistlib.dumps(
            {"Label": "com.mozilla.periodic", "ProgramArguments": ["/usr/bin/true"], "StartInterval": 1800}))
    from harness.world.puppet import Apply, Puppet

    def with_puppet(machine):
        prepare(machine)
        Puppet(machine, role_model="none", applies=(Apply(exit_code=0, duration_s=60, tcc="ok"),)).install()
    mac.run("""
        #!/bin/bash
        /opt/puppetlabs/bin/puppet apply ./manifests/ || exit 1
        mkdir -p /var/tmp/semaphore && touch /var/tmp/semaphore/run-buildbot
    """, prepare=with_puppet, limits=Limits(simulated_s=3000, real_s=60))
    assert names(mac) == []
