#!/bin/bash
# pr-first-draft.sh: a stand-in of a FIRST-DRAFT pull request for the reboot-survivable
# run-puppet.sh, as a hurried author would write it on top of the current script
# (tests/bootstraps/fleet-current.sh).
#
# Written from /work/shared/reference/ronin-context.md alone, without reading the project's
# own bootstrap or its scenarios. It registers the LaunchDaemon
# com.mozilla.ronin-puppet-bootstrap and removes it after a successful run, with these
# deliberate defects (each marked `# DEFECT n:` where it is):
#   DEFECT 1 (a): `install -m 755 "$0" /usr/local/sbin/ronin-puppet-bootstrap.sh` without
#       creating /usr/local/sbin: BSD install exits 71 on a fresh Mac, so the plist points
#       at a script that is not there (launchd: 78 EX_CONFIG at every boot).
#   DEFECT 2 (b): the plist is written with `cat >` in place (a power cut can tear it) and
#       registered before the role/puppet/facter preconditions are checked, so a host
#       without a role gets a daemon that fails at every boot (stranded / reboot loop).
#   DEFECT 3 (c): `launchctl load` of that RunAtLoad plist from inside the running script:
#       a second copy starts at once and runs concurrently with this one (there is no lock).
#   DEFECT 4 (d): the worker semaphore is written right after puppet returns, before its
#       exit code and output are checked.
#   DEFECT 5 (e): `launchctl unload` of its own plist before `rm` of the plist: run by the
#       daemon, the unload kills the script, so the plist (and the copy) stay and the daemon
#       runs again at the next boot.
# Everything else is as in the current script (missing vault: quiet exit 0; log under /tmp;
# puppet applied directly, no ssh; unbounded TCC reboot; mail and retry for ever). One
# thing beyond the defects is done right, so that the defects above stay the only ones of
# the change: the regular mechanism's plist is loaded in this boot (`launchctl load -w`).
# bash 3.2 compatible.

BOOTSTRAP_LABEL=com.mozilla.ronin-puppet-bootstrap
BOOTSTRAP_PLIST=/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist
BOOTSTRAP_COPY=/usr/local/sbin/ronin-puppet-bootstrap.sh

regular_mechanism() {
    [ -f /Library/LaunchDaemons/com.mozilla.atboot_puppet.plist ] ||
        [ -f /Library/LaunchDaemons/org.mozilla.worker-runner.plist ] ||
        [ -f /Library/LaunchDaemons/com.mozilla.periodic.plist ]
}

# Survive reboots: run again at every boot until the host is managed.
# DEFECT 2: registered before the preconditions below are checked.
if ! regular_mechanism; then
    # DEFECT 1: /usr/local/sbin does not exist on a fresh Mac: BSD install exits 71.
    install -m 755 "$0" "$BOOTSTRAP_COPY"
    # DEFECT 2: written in place with `cat >`, not to a temporary file renamed into place.
    cat >"$BOOTSTRAP_PLIST" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key>
    <string>$BOOTSTRAP_LABEL</string>
    <key>ProgramArguments</key>
    <array>
        <string>/bin/bash</string>
        <string>$BOOTSTRAP_COPY</string>
    </array>
    <key>RunAtLoad</key>
    <true/>
    <key>LaunchOnlyOnce</key>
    <true/>
    <key>StandardOutPath</key>
    <string>/var/log/ronin-puppet-bootstrap.log</string>
    <key>StandardErrorPath</key>
    <string>/var/log/ronin-puppet-bootstrap.log</string>
    <key>EnvironmentVariables</key>
    <dict>
        <key>LANG</key>
        <string>en_US.UTF-8</string>
        <key>PATH</key>
        <string>/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin</string>
    </dict>
</dict>
</plist>
EOF
    chown root:wheel "$BOOTSTRAP_PLIST"
    chmod 644 "$BOOTSTRAP_PLIST"
    # DEFECT 3: loading a RunAtLoad plist starts a second copy now, beside this one (no lock).
    launchctl load "$BOOTSTRAP_PLIST"
fi

ROLE_FILE=/etc/puppet_role
PUPPET=/opt/puppetlabs/bin/puppet
FACTER=/opt/puppetlabs/bin/facter
SETTINGS=/opt/puppet_environments/ronin_settings
VAULT=/var/root/vault.yaml
STATE_LIB=/opt/puppet_environments/lib/puppet_state_functions.sh
STATE_FILE=/opt/puppet_environments/last_run_metadata.json
TCC_DB="/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"

PUPPET_REPO="https://github.com/mozilla-platform-ops/ronin_puppet.git"
PUPPET_BRANCH="master"
PUPPET_MAIL=""
PUPPET_SMTP_RELAY=""

if [ -f "$SETTINGS" ]; then
    # shellcheck disable=SC1090 # KEY=value lines written by the enrolment
    . "$SETTINGS"
fi

if [ ! -f "$ROLE_FILE" ]; then
    echo "run-puppet.sh: $ROLE_FILE not found: this host has no puppet role" >&2
    exit 1
fi
ROLE=$(tr -d '[:space:]' <"$ROLE_FILE")
if [ -z "$ROLE" ]; then
    echo "run-puppet.sh: $ROLE_FILE is empty" >&2
    exit 1
fi
if [ ! -x "$PUPPET" ]; then
    echo "run-puppet.sh: $PUPPET not found or not executable" >&2
    exit 1
fi
if [ ! -x "$FACTER" ]; then
    echo "run-puppet.sh: $FACTER not found or not executable" >&2
    exit 1
fi

OWNER=$(echo "$PUPPET_REPO" | sed -E 's#^.*github\.com[:/]([^/]+)/.*$#\1#')
CHECKOUT="/opt/puppet_environments/$OWNER/ronin_puppet"

update_checkout() {
    if [ ! -d "$CHECKOUT/.git" ]; then
        mkdir -p "$(dirname "$CHECKOUT")"
        git clone --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$CHECKOUT" || return 1
        return 0
    fi
    if [ "$(git -C "$CHECKOUT" remote get-url origin)" != "$PUPPET_REPO" ]; then
        echo "run-puppet.sh: the remote URL changed: cloning again"
        rm -rf "$CHECKOUT"
        git clone --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$CHECKOUT" || return 1
        return 0
    fi
    git -C "$CHECKOUT" fetch origin || return 1
    if [ "$(git -C "$CHECKOUT" rev-parse HEAD)" != "$(git -C "$CHECKOUT" rev-parse "origin/$PUPPET_BRANCH")" ]; then
        git -C "$CHECKOUT" reset --hard "origin/$PUPPET_BRANCH" || return 1
    fi
    return 0
}

if ! update_checkout; then
    echo "run-puppet.sh: could not update $CHECKOUT" >&2
    exit 1
fi

# Without the secrets there is nothing to do (today: quietly, exit 0).
if [ ! -f "$VAULT" ]; then
    exit 0
fi

prepare() {
    mkdir -p "$CHECKOUT/data/secrets"
    cp "$VAULT" "$CHECKOUT/data/secrets/vault.yaml"
    chmod 0600 "$CHECKOUT/data/secrets/vault.yaml"
    FQDN=$("$FACTER" networking.fqdn)
    mkdir -p "$CHECKOUT/manifests/nodes"
    cat >"$CHECKOUT/manifests/nodes/nodes.pp" <<EOF
node '$FQDN' {
  include roles_profiles::roles::$ROLE
}
EOF
}

run_puppet() {
    LOG=$(mktemp /tmp/puppet_run.XXXXXX)
    START=$(date +%s)
    cd "$CHECKOUT" || return 1
    FACTER_PUPPETIZING=true FACTER_puppet_role="$ROLE" "$PUPPET" apply \
        --modulepath=./modules:./r10k_modules:/etc/puppetlabs/code/environments/production/modules \
        --hiera_config=./hiera.yaml --logdest=console --color=false --detailed-exitcodes ./manifests/ 2>&1 | tee "$LOG"
    RC=${PIPESTATUS[0]}
    cd / || true
    DURATION=$(($(date +%s) - START))
}

write_state() {
    if [ -f "$STATE_LIB" ]; then
        (
            # shellcheck disable=SC1090 # the fleet's metadata hook
            . "$STATE_LIB" && type write_puppet_state >/dev/null 2>&1 &&
                write_puppet_state "$CHECKOUT" "$ROLE" "$RC" "$DURATION" "$SETTINGS" "$VAULT" "$STATE_FILE"
        ) || true
    fi
}

succeeded() {
    if [ "$RC" -ne 0 ] && [ "$RC" -ne 2 ]; then
        return 1
    fi
    if grep -q '^Error:' "$LOG"; then
        return 1
    fi
    return 0
}

mail_failure() {
    [ -n "$PUPPET_MAIL" ] || return 0
    SUBJECT="puppet run failed on $(hostname) ($ROLE), exit $RC" TO="$PUPPET_MAIL" \
        RELAY="${PUPPET_SMTP_RELAY:-localhost}" LOGFILE="$LOG" python3 -c '
import os, smtplib
from email.message import EmailMessage
m = EmailMessage()
m["Subject"] = os.environ["SUBJECT"]
m["From"] = "root@" + os.uname()[1]
m["To"] = os.environ["TO"]
m.set_content(open(os.environ["LOGFILE"], errors="replace").read())
s = smtplib.SMTP(os.environ["RELAY"])
s.send_message(m)
s.quit()
' || true
}

while true; do
    prepare
    run_puppet
    # DEFECT 4: the semaphore is written before puppet's result is checked.
    mkdir -p /var/tmp/semaphore
    touch /var/tmp/semaphore/run-buildbot
    write_state
    if grep -q "unable to open database \"$TCC_DB" "$LOG" && [ ! -f "$TCC_DB" ]; then
        echo "run-puppet.sh: $TCC_DB does not exist yet: rebooting so that cltbld logs in"
        shutdown -r now
        exit 0
    fi
    if succeeded; then
        echo "System Installed: $(date)" >>/etc/issue
        if regular_mechanism; then
            for regular in /Library/LaunchDaemons/org.mozilla.worker-runner.plist \
                /Library/LaunchDaemons/com.mozilla.periodic.plist; do
                if [ -f "$regular" ]; then
                    launchctl load -w "$regular"
                fi
            done
            # Hand over: the bootstrap daemon is not needed any more.
            # DEFECT 5: unload before rm: run by the daemon, the unload kills this script,
            # so the rm never runs and the plist stays for the next boot.
            launchctl unload "$BOOTSTRAP_PLIST"
            rm -f "$BOOTSTRAP_PLIST" "$BOOTSTRAP_COPY"
        fi
        exit 0
    fi
    mail_failure
    echo "run-puppet.sh: puppet failed (exit $RC); retrying in 60 s"
    git -C "$CHECKOUT" fetch origin
    if [ "$(git -C "$CHECKOUT" rev-parse HEAD)" != "$(git -C "$CHECKOUT" rev-parse "origin/$PUPPET_BRANCH")" ]; then
        git -C "$CHECKOUT" reset --hard "origin/$PUPPET_BRANCH"
    fi
    sleep 60
done
