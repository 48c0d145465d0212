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

#: The M4 enrolment driver ("The M4 enrolment driver"): MDM's script-job on SIP-enabled M4
#: hosts, and the LaunchDaemon it registers, which runs run-puppet.sh over ssh at every boot
#: until puppet's Safari and TCC classes have run. Paths canonical where macOS aliases them.
DRIVER_LABEL = "com.mozilla.m4-bootstrap"
DRIVER_PLIST = "/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist"
DRIVER_PLIST_NAME = DRIVER_PLIST.rsplit("/", 1)[1]
DRIVER_COPY = "/usr/local/sbin/m4-bootstrap-driver.sh"
DRIVER_LOG = "/private/var/log/m4-bootstrap.log"
DRIVER_COMPLETE = "/private/var/log/m4-bootstrap-complete"
DRIVER_OUT = "/private/var/log/m4-bootstrap-driver.out"
DRIVER_ERR = "/private/var/log/m4-bootstrap-driver.err"
DRIVER_SSH_KEY = "/private/var/root/.ssh/bootstrap_id_ed25519"
DRIVER_KEY_COMMENT = "m4-bootstrap-sip-safari"
#: What the driver's daemon waits for: puppet's Safari class (the file starts with "1") and its
#: TCC class, on an M4 role.
SAFARI_SEMAPHORE = "/Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run"
TCC_SEMAPHORE = "/private/var/tmp/semaphore/safari-tcc-perms-applied"
#: What the driver waits for before it fetches the secrets: the admin account's secure token,
#: and the SCEP certificate MDM delivers to the System keychain, by the issuer it expects.
SECURE_TOKEN_USER = "admin"
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
SCEP_CERTIFICATE = "Mac mini"
SCEP_ISSUER = "Mozilla RelOps Bootstrap CA Intermediate CA"
#: The secrets broker the driver fetches /var/root/vault.yaml from, with that identity.
BROKER_HOST = "forge.relops.mozilla.com"
BROKER_SECRETS = f"https://{BROKER_HOST}/secret/"
#: Where the checkout holds run-puppet.sh (the driver runs that copy until puppet installs one).
CHECKOUT_SCRIPT = "modules/macos_run_puppet/files/run-puppet.sh"
MANAGED_SCRIPT = "/usr/local/bin/run-puppet.sh"

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
          BOOTSTRAP_PLIST_NAME: BOOTSTRAP_LABEL, DRIVER_PLIST_NAME: DRIVER_LABEL}

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
#: Where macOS keeps the autologin user (defaults read ... autoLoginUser) and its password.
LOGINWINDOW = "/Library/Preferences/com.apple.loginwindow.plist"
KCPASSWORD = "/etc/kcpassword"
AUTOLOGIN_USER = "cltbld"

#: What a bootstrap script can promise, each level including the ones before it. "any" is what
#: every fleet bootstrap must do, the script from before the reboot-survivable change included
#: (the contract of "How a Mac becomes a worker", item 3); "reboot-survivable" adds the
#: change's own promises ("The change under test"). A scenario says which one it holds a script
#: to (`applies_to`); a script is run for what it claims.
CONTRACTS = ("any", "reboot-survivable")


def binds(applies_to: str, claims: str) -> bool:
    """True when a script that claims `claims` is held to what applies to `applies_to`."""
    return CONTRACTS.index(applies_to) <= CONTRACTS.index(claims)
