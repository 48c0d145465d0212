#!/bin/bash
#
# m4-enrolment-driver.sh - the M4 enrolment driver: what MDM runs as its script-job on the
# fleet's SIP-enabled M4 Mac minis (SimpleMDM "bootstrap, SIP + Safari"), written from its
# description in ronin-context.md ("The M4 enrolment driver"), not from the fleet's file.
# macsim's scenarios run it around the script under test: the driver brings run-puppet.sh in
# through the checkout and runs it over ssh root@localhost at every boot until puppet's Safari
# and TCC classes have run, then hands the host to its regular mechanism.
#
# Runs as root, logs to /var/log/m4-bootstrap.log, and in order:
#   0. exits 0 at once when /var/log/m4-bootstrap-complete exists;
#   1. waits for the admin account's secure token, then for /etc/puppet_role;
#   2. waits for MDM's SCEP certificate "Mac mini" from the bootstrap CA in the System keychain;
#   3. fetches /var/root/vault.yaml from the secrets broker with that identity;
#   4. makes sure git works (else installs the Command Line Tools);
#   5. writes /opt/puppet_environments/ronin_settings and clones or updates the checkout;
#   6. sets up ssh root@localhost with a key of its own, and checks it;
#   7. writes its daemon part /usr/local/sbin/m4-bootstrap-driver.sh and the LaunchDaemon
#      com.mozilla.m4-bootstrap, bootstraps it (falling back to load -w) and exits 0.
# Exit codes: 0 done (or already complete); 1 a wait ran out or a step failed, nothing
# registered (MDM or an operator runs it again). Written for macOS's /bin/bash 3.2.

set -u
umask 022
PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export PATH
export HOME="${HOME:-/var/root}"

readonly LOG=/var/log/m4-bootstrap.log
readonly COMPLETE=/var/log/m4-bootstrap-complete
readonly ADMIN_USER=admin
readonly ROLE_FILE=/etc/puppet_role
readonly KEYCHAIN=/Library/Keychains/System.keychain
readonly CERT_NAME="Mac mini"
readonly CA_ISSUER="Mozilla RelOps Bootstrap CA Intermediate CA"
readonly SECRETS_URL=https://forge.relops.mozilla.com/secret
readonly VAULT=/var/root/vault.yaml
readonly CLT_TRIGGER=/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
readonly SETTINGS=/opt/puppet_environments/ronin_settings
readonly PUPPET_REPO=https://github.com/mozilla-platform-ops/ronin_puppet.git
readonly PUPPET_BRANCH=master
readonly PUPPET_MAIL=relops@mozilla.com
readonly CHECKOUT=/opt/puppet_environments/mozilla-platform-ops/ronin_puppet
readonly SSH_DIR=/var/root/.ssh
readonly SSH_KEY=/var/root/.ssh/bootstrap_id_ed25519
readonly KEY_COMMENT=m4-bootstrap-sip-safari
readonly LABEL=com.mozilla.m4-bootstrap
readonly PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist
readonly DAEMON_SCRIPT=/usr/local/sbin/m4-bootstrap-driver.sh
readonly TOKEN_WAIT_S=1800 TOKEN_POLL_S=10 ROLE_WAIT_S=600 ROLE_POLL_S=10
readonly CERT_WAIT_S=300 CERT_POLL_S=5

log() {
    local line
    line="$(date '+%Y-%m-%d %H:%M:%S') m4-enrolment-driver[$$]: $*"
    printf '%s\n' "$line"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null || true
}

abort() {
    log "ERROR: $*; nothing registered: run this again once that is fixed"
    exit 1
}

# wait_for LIMIT_S POLL_S WHAT COMMAND...: true once COMMAND succeeds, false after LIMIT_S.
wait_for() {
    local limit_s=$1 poll_s=$2 what=$3 waited=0
    shift 3
    until "$@"; do
        if [ "$waited" -ge "$limit_s" ]; then
            log "$what: still not there after ${waited} s"
            return 1
        elif [ "$waited" -eq 0 ]; then
            log "waiting up to ${limit_s} s for $what"
        fi
        sleep "$poll_s"
        waited=$((waited + poll_s))
    done
    log "$what: there (after ${waited} s)"
}

# sysadminctl prints its answer on stderr.
secure_token_enabled() {
    /usr/sbin/sysadminctl -secureTokenStatus "$ADMIN_USER" 2>&1 | grep -q ENABLED
}

role_delivered() {
    [ -s "$ROLE_FILE" ]
}

# Only the issuer's common name is compared: LibreSSL (macOS) and OpenSSL print the issuer
# line differently around it.
scep_certificate_installed() {
    /usr/bin/security find-certificate -c "$CERT_NAME" -p "$KEYCHAIN" 2>/dev/null \
        | /usr/bin/openssl x509 -noout -issuer 2>/dev/null | grep -qF "$CA_ISSUER"
}

# The identity is the keychain's, by name: only macOS curl's SecureTransport back end reads it.
fetch_secrets() {
    local role=$1 partial code
    partial=$(mktemp /var/root/.vault-yaml.XXXXXX) || abort "cannot make a temporary file in /var/root"
    code=$(CURL_SSL_BACKEND=securetransport /usr/bin/curl -sS --fail-with-body --max-time 30 \
        --cert "$CERT_NAME" -w '%{http_code}' -o "$partial" "$SECRETS_URL/$role" 2>>"$LOG")
    if [ "$code" != 200 ]; then
        rm -f "$partial"
        abort "the secrets broker answered HTTP ${code:-none} for role $role"
    fi
    if ! { chmod 0600 "$partial" && chown root:wheel "$partial" && mv -f "$partial" "$VAULT"; }; then
        rm -f "$partial"
        abort "cannot put the secrets in place at $VAULT"
    fi
    log "fetched the secrets of $role into $VAULT"
}

# The tools appear in softwareupdate's list only while the on-demand trigger file exists.
ensure_git() {
    local label
    if git --version >>"$LOG" 2>&1; then
        return 0
    fi
    log "git does not work: installing the Command Line Tools"
    touch "$CLT_TRIGGER"
    label=$(softwareupdate --list 2>/dev/null | sed -n 's/^\* Label: \(Command Line Tools.*\)$/\1/p' | tail -n 1)
    if [ -z "$label" ] || ! softwareupdate -i "$label" >>"$LOG" 2>&1; then
        rm -f "$CLT_TRIGGER"
        abort "could not install the Command Line Tools (label '${label}')"
    fi
    rm -f "$CLT_TRIGGER"
    git --version >>"$LOG" 2>&1 || abort "git still does not work after installing $label"
}

write_settings() {
    local partial
    mkdir -p "${SETTINGS%/*}" || return 1
    partial=$(mktemp "${SETTINGS%/*}/.ronin_settings.XXXXXX") || return 1
    if printf 'PUPPET_REPO=%s\nPUPPET_BRANCH=%s\nPUPPET_MAIL=%s\n' "$PUPPET_REPO" "$PUPPET_BRANCH" \
        "$PUPPET_MAIL" >"$partial" && chmod 0644 "$partial" && mv -f "$partial" "$SETTINGS"; then
        log "wrote $SETTINGS"
        return 0
    fi
    rm -f "$partial"
    return 1
}

checkout_tracks_repo() {
    [ -d "$CHECKOUT/.git" ] \
        && [ "$(cd "$CHECKOUT" && git config --get remote.origin.url 2>/dev/null)" = "$PUPPET_REPO" ]
}

# A checkout that cannot be updated (another origin, git locks left by a power cut) is cloned
# again from scratch.
sync_checkout() {
    if checkout_tracks_repo && (cd "$CHECKOUT" && git fetch --quiet origin \
        && git reset --quiet --hard "origin/$PUPPET_BRANCH") >>"$LOG" 2>&1; then
        log "updated $CHECKOUT to origin/$PUPPET_BRANCH"
        return 0
    fi
    rm -rf "$CHECKOUT" && mkdir -p "${CHECKOUT%/*}" || return 1
    git clone --quiet --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$CHECKOUT" >>"$LOG" 2>&1 || return 1
    log "cloned $PUPPET_REPO ($PUPPET_BRANCH) into $CHECKOUT"
}

localhost_ssh() {
    ssh -n -i "$SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new \
        root@localhost "$@"
}

# "TYPE BLOB" of the key, read from the private half (a power cut can leave it empty).
public_key() {
    local line kind blob
    line=$(ssh-keygen -y -f "$SSH_KEY" 2>/dev/null) || return 1
    read -r kind blob _ <<<"$line"
    printf '%s %s\n' "$kind" "$blob"
}

setup_ssh() {
    local public
    mkdir -p "$SSH_DIR" && chmod 0700 "$SSH_DIR" || return 1
    if ! public=$(public_key); then
        rm -f "$SSH_KEY" "$SSH_KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$KEY_COMMENT" -f "$SSH_KEY" </dev/null >>"$LOG" 2>&1 || return 1
        public=$(public_key) || return 1
    fi
    if ! grep -qF "$public" "$SSH_DIR/authorized_keys" 2>/dev/null; then
        printf '%s %s\n' "$public" "$KEY_COMMENT" >>"$SSH_DIR/authorized_keys" || return 1
    fi
    chmod 0600 "$SSH_DIR/authorized_keys" || return 1
    localhost_ssh true >>"$LOG" 2>&1
}

# The daemon part, quoted: nothing of this run is expanded into it.
daemon_script() {
    cat <<'DAEMON'
#!/bin/bash
# m4-bootstrap-driver.sh - the daemon part of the M4 enrolment driver (com.mozilla.m4-bootstrap).
# At every boot: waits for DNS, then runs run-puppet.sh over ssh root@localhost (the managed
# copy, else the checkout's) until puppet's Safari and TCC classes have run; then writes the
# worker semaphore and /var/log/m4-bootstrap-complete, removes its ssh key, its plist and this
# script, and boots itself out last.
set -u
umask 022
PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export PATH
export HOME="${HOME:-/var/root}"

readonly LOG=/var/log/m4-bootstrap.log
readonly COMPLETE=/var/log/m4-bootstrap-complete
readonly LABEL=com.mozilla.m4-bootstrap
readonly PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist
readonly SELF=/usr/local/sbin/m4-bootstrap-driver.sh
readonly SSH_KEY=/var/root/.ssh/bootstrap_id_ed25519
readonly AUTHORIZED_KEYS=/var/root/.ssh/authorized_keys
readonly KEY_COMMENT=m4-bootstrap-sip-safari
readonly MANAGED_SCRIPT=/usr/local/bin/run-puppet.sh
readonly CHECKOUT_SCRIPT=/opt/puppet_environments/mozilla-platform-ops/ronin_puppet/modules/macos_run_puppet/files/run-puppet.sh
readonly SAFARI_SEMAPHORE=/Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run
readonly TCC_SEMAPHORE=/var/tmp/semaphore/safari-tcc-perms-applied
readonly WORKER_SEMAPHORE=/var/tmp/semaphore/run-buildbot
readonly DNS_TRIES=60 DNS_POLL_S=5 RETRY_S=30

log() {
    local line
    line="$(date '+%Y-%m-%d %H:%M:%S') m4-bootstrap-driver[$$]: $*"
    printf '%s\n' "$line"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null || true
}

dns_ready() {
    dscacheutil -q host -a name github.com 2>/dev/null | grep -q ip_address
}

wait_for_dns() {
    local tries=0
    until dns_ready; do
        tries=$((tries + 1))
        if [ "$tries" -gt "$DNS_TRIES" ]; then
            log "github.com still does not resolve: going on (run-puppet.sh waits for it too)"
            return 0
        fi
        sleep "$DNS_POLL_S"
    done
}

puppet_classes_ran() {
    [ "$(head -c 1 "$SAFARI_SEMAPHORE" 2>/dev/null)" = 1 ] && [ -e "$TCC_SEMAPHORE" ]
}

# Over ssh: puppet then runs in a user-session TCC context, which a SIP host requires.
run_puppet() {
    local script=$MANAGED_SCRIPT
    if [ ! -e "$script" ]; then script=$CHECKOUT_SCRIPT; fi
    log "running $script over ssh root@localhost"
    ssh -n -i "$SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new \
        root@localhost "$script"
    log "$script exited $?"
}

forget_ssh_key() {
    local kept
    rm -f "$SSH_KEY" "$SSH_KEY.pub"
    if [ -f "$AUTHORIZED_KEYS" ]; then
        kept=$(grep -vF "$KEY_COMMENT" "$AUTHORIZED_KEYS")
        if [ -n "$kept" ]; then printf '%s\n' "$kept" >"$AUTHORIZED_KEYS"; else : >"$AUTHORIZED_KEYS"; fi
    fi
}

finish() {
    mkdir -p "${WORKER_SEMAPHORE%/*}"
    touch "$WORKER_SEMAPHORE"
    date '+%Y-%m-%d %H:%M:%S' >"$COMPLETE"
    log "puppet's Safari and TCC classes have run: wrote $WORKER_SEMAPHORE and $COMPLETE"
    forget_ssh_key
    rm -f "$PLIST" "$SELF"
    log "removed the ssh key, $PLIST and $SELF; booting out $LABEL, the last step"
    # The bootout ends this script: launchctl's output has no one left to read it, and it
    # would keep launchd's log files of this job open a moment longer than the job itself.
    launchctl bootout "system/$LABEL" >/dev/null 2>&1
}

log "starting at boot"
wait_for_dns
while :; do
    run_puppet
    if puppet_classes_ran; then break; fi
    log "puppet's Safari and TCC semaphores are not there yet: again in ${RETRY_S} s"
    sleep "$RETRY_S"
done
finish
DAEMON
}

plist_xml() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key> <string>${LABEL}</string>
	<key>ProgramArguments</key>
	<array> <string>/bin/bash</string> <string>${DAEMON_SCRIPT}</string> </array>
	<key>RunAtLoad</key> <true/>
	<key>StandardOutPath</key> <string>/var/log/m4-bootstrap-driver.out</string>
	<key>StandardErrorPath</key> <string>/var/log/m4-bootstrap-driver.err</string>
</dict>
</plist>
EOF
}

# Written beside the target and renamed into place: launchd never reads half a file.
install_file() {
    local dest=$1 mode=$2 partial
    partial=$(mktemp "${dest%/*}/.${dest##*/}.XXXXXX") || return 1
    if cat >"$partial" && chmod "$mode" "$partial" && chown root:wheel "$partial" \
        && mv -f "$partial" "$dest"; then
        return 0
    fi
    rm -f "$partial"
    return 1
}

register_daemon() {
    mkdir -p "${DAEMON_SCRIPT%/*}" || return 1
    daemon_script | install_file "$DAEMON_SCRIPT" 0755 || return 1
    plist_xml | install_file "$PLIST" 0644 || return 1
    if launchctl bootstrap system "$PLIST" >>"$LOG" 2>&1; then
        log "bootstrapped $LABEL"
    elif launchctl load -w "$PLIST" >>"$LOG" 2>&1; then
        log "launchctl bootstrap failed: loaded $LABEL with load -w"
    else
        log "WARNING: neither bootstrap nor load -w loaded $LABEL: launchd starts it at the next boot"
    fi
}

main() {
    local role
    if [ -e "$COMPLETE" ]; then
        log "$COMPLETE exists: this host is bootstrapped, nothing to do"
        exit 0
    fi
    log "starting"
    wait_for "$TOKEN_WAIT_S" "$TOKEN_POLL_S" "the secure token of $ADMIN_USER" secure_token_enabled \
        || abort "$ADMIN_USER has no secure token"
    wait_for "$ROLE_WAIT_S" "$ROLE_POLL_S" "$ROLE_FILE" role_delivered || abort "MDM delivered no $ROLE_FILE"
    role=$(head -n 1 "$ROLE_FILE" | tr -d '[:space:]')
    log "role $role"
    wait_for "$CERT_WAIT_S" "$CERT_POLL_S" "the certificate \"$CERT_NAME\" from $CA_ISSUER" \
        scep_certificate_installed || abort "no certificate \"$CERT_NAME\" from $CA_ISSUER in $KEYCHAIN"
    fetch_secrets "$role"
    ensure_git
    write_settings || abort "cannot write $SETTINGS"
    sync_checkout || abort "cannot clone $PUPPET_REPO into $CHECKOUT"
    setup_ssh || abort "ssh root@localhost with $SSH_KEY does not work (is Remote Login on?)"
    register_daemon || abort "cannot write $DAEMON_SCRIPT or $PLIST"
    log "done: $LABEL runs run-puppet.sh at every boot until the host is handed over"
}

main "$@"
