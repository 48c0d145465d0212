#!/bin/bash
# fleet-current.sh: a stand-in of the fleet's CURRENT run-puppet.sh, BEFORE the
# reboot-survivable change.
#
# Written from /work/shared/reference/ronin-context.md alone ("How a Mac becomes a worker",
# item 3), without reading the project's own bootstrap or its scenarios. It is faithful to
# that description, known weaknesses included, and adds no improvement:
#   - no LaunchDaemon of its own: after a reboot nothing runs it again (an operator must);
#   - no lock: two runs at once race on the checkout, nodes.pp and vault.yaml;
#   - no wait for the network: a failed clone or fetch ends the run;
#   - a missing /var/root/vault.yaml ends the run quietly with exit 0;
#   - puppet's output is teed to a temporary log under /tmp (gone after a reboot);
#   - puppet is applied directly (no `ssh root@localhost`), so from launchd's system context
#     it is denied cltbld's TCC database on SIP hosts and fails for ever;
#   - the TCC reboot fires whenever the database file is missing, with no bound;
#   - on failure: a mail (best effort), then retry for ever (fetch, hard reset if the branch
#     moved, sleep 60, apply again).
# bash 3.2 compatible.

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
    write_state
    if grep -q "unable to open database \"$TCC_DB" "$LOG" && [ ! -f "$TCC_DB" ]; then
        echo "run-puppet.sh: $TCC_DB does not exist yet: rebooting so that cltbld logs in"
        shutdown -r now
        exit 0
    fi
    if succeeded; then
        echo "System Installed: $(date)" >>/etc/issue
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
