"""The fleet's facts that macsim checks against: labels, paths and files of ronin_puppet's Macs.

Everything here is as ../shared/reference/ronin-context.md gives it; the simulated Mac itself
(harness/mac/) knows none of it. The world's models, the scenarios and the invariants ask this
module, so that a label or a path is written once.
"""
from __future__ import annotations

#: The reboot-survivable bootstrap's own LaunchDaemon ("The change under test").
BOOTSTRAP_LABEL = "com.mozilla.ronin-puppet-bootstrap"
BOOTSTRAP_PLIST = "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist"
BOOTSTRAP_PLIST_NAME = BOOTSTRAP_PLIST.rsplit("/", 1)[1]  # as a boot event lists the daemons
BOOTSTRAP_COPY = "/usr/local/sbin/ronin-puppet-bootstrap.sh"
BOOTSTRAP_LOG = "/var/log/ronin-puppet-bootstrap.log"
BOOTSTRAP_ENVIRONMENT = {"LANG": "en_US.UTF-8",
                         "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin"}

#: The worker semaphore (its name is historical), canonical: /var/tmp is /private/var/tmp.
SEMAPHORE = "/private/var/tmp/semaphore/run-buildbot"

#: The regular mechanisms that run run-puppet.sh once the host is managed, by plist file name,
#: with the Label inside each (the at-boot one's differs from its file name).
REGULAR_PLISTS = ("com.mozilla.atboot_puppet.plist", "org.mozilla.worker-runner.plist",
                  "com.mozilla.periodic.plist")
WORKER_RUNNER_PLIST = "org.mozilla.worker-runner.plist"
LABELS = {"com.mozilla.atboot_puppet.plist": "org.mozilla.atboot_puppet",
          "org.mozilla.worker-runner.plist": "org.mozilla.worker-runner",
          "com.mozilla.periodic.plist": "com.mozilla.periodic",
          BOOTSTRAP_PLIST_NAME: BOOTSTRAP_LABEL}

#: What MDM and the operators put on a host before the bootstrap runs.
ROLE_FILE = "/etc/puppet_role"
VAULT = "/var/root/vault.yaml"
SETTINGS = "/opt/puppet_environments/ronin_settings"

#: Puppet as the fleet installs it, and the checkout of the fleet's repository it applies.
PUPPET = "/opt/puppetlabs/bin/puppet"
FACTER = "/opt/puppetlabs/bin/facter"
RONIN_REPOSITORY = "mozilla-platform-ops/ronin_puppet"
CHECKOUT = "/opt/puppet_environments/mozilla-platform-ops/ronin_puppet"

#: cltbld's TCC database: it appears after that user's first autologin.
TCC_DB = "/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"

#: What a bootstrap script can promise, each level including the ones before it. "any" is what
#: every fleet bootstrap must do, the script from before the reboot-survivable change included
#: (the contract of "How a Mac becomes a worker", item 3); "reboot-survivable" adds the
#: change's own promises ("The change under test"). A scenario says which one it holds a script
#: to (`applies_to`); a script is run for what it claims.
CONTRACTS = ("any", "reboot-survivable")


def binds(applies_to: str, claims: str) -> bool:
    """True when a script that claims `claims` is held to what applies to `applies_to`."""
    return CONTRACTS.index(applies_to) <= CONTRACTS.index(claims)
