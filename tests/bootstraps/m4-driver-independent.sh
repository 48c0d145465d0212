#!/bin/bash
# m4-driver-independent.sh: a stand-in of the fleet's M4 enrolment driver, the MDM script-job
# that runs on SIP-enabled M4 Mac minis (SimpleMDM "bootstrap, SIP + Safari").
#
# Written from /work/shared/reference/ronin-context.md alone (section "The M4 enrolment
# driver (what MDM's script-job really is on M4 hosts)", with the rest of that file for paths
# and labels) and /work/shared/reference/macos-behaviour.md §3, §5.3-5.4 and §15, without
# reading the project's own driver, simulator or scenarios. It is an independent second
# implementation of that description, used to check that the simulator and the project's
# driver agree with it.
#
# What it does, as root, logging to /var/log/m4-bootstrap.log:
#   0. exits 0 at once when /var/log/m4-bootstrap-complete exists;
#   1. waits up to 30 min (every 10 s) for the `admin` account's secure token
#      (`/usr/sbin/sysadminctl -secureTokenStatus admin 2>&1 | grep -q ENABLED`), then up to
#      10 min for /etc/puppet_role;
#   2. reads the role and waits up to 5 min (every 5 s) for the SCEP certificate "Mac mini" in
#      /Library/Keychains/System.keychain whose issuer (`security find-certificate -c ... -p`
#      piped to `openssl x509 -noout -issuer`) contains
#      `Mozilla RelOps Bootstrap CA Intermediate CA`;
#   3. fetches https://forge.relops.mozilla.com/secret/<role> with that identity
#      (CURL_SSL_BACKEND=securetransport /usr/bin/curl -sS --fail-with-body --max-time 30
#      --cert "Mac mini" -w '%{http_code}' -o TMP) into `mktemp /var/root/.vault-yaml.XXXXXX`,
#      then chmod 0600, chown root:wheel, mv to /var/root/vault.yaml; any HTTP code but 200
#      aborts;
#   4. makes sure `git --version` works, else installs the Command Line Tools through
#      `softwareupdate --list` / `softwareupdate -i LABEL` (with the on-demand trigger file
#      /tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress);
#   5. writes /opt/puppet_environments/ronin_settings (PUPPET_REPO, PUPPET_BRANCH, PUPPET_MAIL)
#      and clones, or fetches and hard-resets, /opt/puppet_environments/<owner>/ronin_puppet;
#   6. sets up `ssh root@localhost` with its own key /var/root/.ssh/bootstrap_id_ed25519
#      (comment m4-bootstrap-sip-safari in root's authorized_keys) and checks that it works;
#   7. writes the daemon part /usr/local/sbin/m4-bootstrap-driver.sh and the LaunchDaemon
#      /Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist (Label com.mozilla.m4-bootstrap,
#      RunAtLoad, no LaunchOnlyOnce, /bin/bash /usr/local/sbin/m4-bootstrap-driver.sh, logs in
#      /var/log/m4-bootstrap-driver.{out,err}, root:wheel 0644), then
#      `launchctl bootstrap system PLIST`, falling back to `launchctl load -w PLIST`; exits 0.
# The daemon part, at every boot: waits for DNS (`dscacheutil -q host -a name github.com` with
# an ip_address line, up to 60 x 5 s), then loops `ssh root@localhost /usr/local/bin/run-puppet.sh`
# (the checkout's modules/macos_run_puppet/files/run-puppet.sh when the former is absent),
# sleeping 30 s between tries, until the Safari semaphore
# /Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run starts
# with `1` and /var/tmp/semaphore/safari-tcc-perms-applied exists; then writes
# /var/tmp/semaphore/run-buildbot and /var/log/m4-bootstrap-complete, removes its ssh key and
# its authorized_keys line, removes its plist and its script, and boots itself out last
# (`launchctl bootout system/com.mozilla.m4-bootstrap`: that command kills it, §5.3-5.4).
#
# Where the description is silent, this script chose:
#   - not root: message and exit 1 (after the completion check, which comes first);
#   - any wait that runs out (secure token, role, certificate) aborts: message, exit 1, nothing
#     registered; the MDM job (or an operator) can simply run it again;
#   - /etc/puppet_role is polled every 10 s and must be non-empty; the role is its first line
#     with whitespace removed and must match [A-Za-z0-9_.-]+ (it goes into a URL), else abort;
#   - a certificate "Mac mini" with another issuer is waited on like a missing one (only the
#     first match is printed, MDM may still replace it); the issuer seen is logged on time-out;
#   - the secrets fetch is tried once (no retry); it aborts on an HTTP code other than 200, on
#     a non-zero curl exit status and on an empty body; the temporary file is removed on
#     every path; the response body is never logged (only its size);
#   - Command Line Tools: the newest "Command Line Tools" label of `softwareupdate --list`
#     (lines `* Label: NAME`, or the older `* NAME`), by `sort -V`; one attempt; the trigger
#     file is removed afterwards; git must then work, else abort;
#   - ronin_settings is rewritten at every run (written to a temporary file, then renamed),
#     root:wheel 0644, unquoted KEY=value lines; PUPPET_REPO / PUPPET_BRANCH / PUPPET_MAIL
#     come from the driver's environment when set there, else the defaults
#     https://github.com/mozilla-platform-ops/ronin_puppet.git, master, relops@mozilla.com;
#     values with characters outside [A-Za-z0-9@%+=:,./_~-] abort;
#   - the checkout is /opt/puppet_environments/<owner of PUPPET_REPO>/ronin_puppet; an
#     existing checkout whose origin is PUPPET_REPO is fetched (`git fetch origin`) and reset
#     (`git reset --hard origin/BRANCH`); when that fails, or the origin differs, or the
#     directory is not a checkout, it is removed and cloned again (`git clone --branch`), which
#     also gets rid of git lock files left by a power cut;
#   - the ssh key is reused when both halves exist, else made afresh (`ssh-keygen -t ed25519`,
#     no passphrase); any previous authorized_keys line with the comment is replaced by the
#     current public key (exactly one line, no from= restriction); /var/root/.ssh is 0700 and
#     authorized_keys 0600, root:wheel; the check is `ssh ... root@localhost true` once, with
#     `-o BatchMode=yes -o StrictHostKeyChecking=accept-new -i KEY` and stdin from /dev/null
#     (the driver may itself be read from stdin); a failed check aborts (Remote Login is not
#     switched on by this script);
#   - the daemon part is a quoted heredoc, so it works also when the driver runs from stdin;
#     it is written with the checkout path as its only generated line; the script (0755) and
#     the plist (0644) are root:wheel and written to dot-files in their directory, then renamed;
#     /usr/local/sbin is created (0755) when missing (it does not exist on a fresh Mac);
#   - the plist has no EnvironmentVariables, no KeepAlive; both scripts append the usual
#     system directories to PATH and set HOME=/var/root when it is unset;
#   - the driver exits 0 once the daemon is handed to launchd, whatever launchctl said (both
#     outcomes are logged); it neither checks nor stops an already loaded daemon, and takes no
#     lock (a second run during a bootstrap races with the daemon on the checkout);
#   - the daemon: when /var/log/m4-bootstrap-complete already exists at start (a power cut
#     after it was written), it goes straight to the final clean-up; when DNS does not come up
#     in 60 x 5 s it logs that and goes on (the loop retries anyway); the loop runs
#     run-puppet.sh at least once per boot, then checks the two semaphores (their state, not
#     run-puppet.sh's exit status, ends the loop); the checkout's copy is run directly when
#     executable, else as `/bin/bash PATH`; a try with neither copy present, or without the
#     key, counts as a failed try; run-puppet.sh's output goes to the daemon's stdout
#     (/var/log/m4-bootstrap-driver.out); the daemon's own lines go there and to
#     /var/log/m4-bootstrap.log;
#   - the daemon writes /var/tmp/semaphore/run-buildbot as an empty file (creating
#     /var/tmp/semaphore, 0755, only when missing) and a UTC timestamp into
#     /var/log/m4-bootstrap-complete; the localhost entry in root's known_hosts stays; it does
#     not load the worker-runner daemon (the description does not say so).
# bash 3.2 compatible.

LOG=/var/log/m4-bootstrap.log
COMPLETE=/var/log/m4-bootstrap-complete
ROLE_FILE=/etc/puppet_role
KEYCHAIN=/Library/Keychains/System.keychain
CERT_NAME="Mac mini"
CA_ISSUER="Mozilla RelOps Bootstrap CA Intermediate CA"
SECRET_URL_BASE=https://forge.relops.mozilla.com/secret
VAULT=/var/root/vault.yaml
CLT_TRIGGER=/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
ENV_ROOT=/opt/puppet_environments
SETTINGS=$ENV_ROOT/ronin_settings
DEFAULT_REPO=https://github.com/mozilla-platform-ops/ronin_puppet.git
DEFAULT_BRANCH=master
DEFAULT_MAIL=relops@mozilla.com
SSH_DIR=/var/root/.ssh
SSH_KEY=$SSH_DIR/bootstrap_id_ed25519
AUTH_KEYS=$SSH_DIR/authorized_keys
KEY_COMMENT=m4-bootstrap-sip-safari
LABEL=com.mozilla.m4-bootstrap
PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist
DAEMON_DIR=/usr/local/sbin
DAEMON_SCRIPT=$DAEMON_DIR/m4-bootstrap-driver.sh

set -u
umask 022

# Keep whatever PATH we were given first (it may hold wrappers); add the system directories.
for _d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
    case ":${PATH:-}:" in
        *":$_d:"*) ;;
        *) PATH="${PATH:+$PATH:}$_d" ;;
    esac
done
export PATH
if [ -z "${HOME:-}" ]; then
    HOME=/var/root
fi
export HOME

VAULT_TMP=""
# shellcheck disable=SC2329  # invoked by the EXIT trap
cleanup_tmp() {
    if [ -n "$VAULT_TMP" ]; then
        rm -f "$VAULT_TMP"
    fi
}
trap cleanup_tmp EXIT

log() {
    local line
    line="$(date '+%Y-%m-%d %H:%M:%S') m4-bootstrap: $*"
    printf '%s\n' "$line"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null
}

die() {
    log "ERROR: $*"
    exit 1
}

# put_in_place MODE TMP DEST: chmod MODE, chown root:wheel, then rename TMP to DEST.
# On failure TMP is removed and 1 returned.
put_in_place() {
    if chmod "$1" "$2" && chown root:wheel "$2" && mv -f "$2" "$3"; then
        return 0
    fi
    rm -f "$2"
    return 1
}

# wait_until TIMEOUT_S INTERVAL_S DESCRIPTION COMMAND [ARG...]
# Runs COMMAND at once, then every INTERVAL_S seconds, until it succeeds (return 0) or
# TIMEOUT_S seconds of sleeping have passed (return 1).
wait_until() {
    local timeout=$1 interval=$2 what=$3 waited=0
    shift 3
    if "$@"; then
        return 0
    fi
    log "waiting up to ${timeout} s (every ${interval} s) for ${what}"
    while [ "$waited" -lt "$timeout" ]; do
        sleep "$interval"
        waited=$((waited + interval))
        if "$@"; then
            log "${what}: there after ${waited} s"
            return 0
        fi
    done
    log "${what}: not there after ${timeout} s"
    return 1
}

# ---- 0. already done? ----------------------------------------------------------------------
if [ -e "$COMPLETE" ]; then
    log "$COMPLETE exists: the bootstrap is complete, nothing to do"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    die "must run as root"
fi

log "M4 enrolment driver (bootstrap, SIP + Safari) starting, pid $$"

# ---- 1. secure token, role ------------------------------------------------------------------
# shellcheck disable=SC2329  # invoked through wait_until
secure_token_enabled() {
    /usr/sbin/sysadminctl -secureTokenStatus admin 2>&1 | grep -q ENABLED
}
# shellcheck disable=SC2329  # invoked through wait_until
role_file_present() {
    [ -s "$ROLE_FILE" ]
}

wait_until 1800 10 "the secure token of the admin account" secure_token_enabled \
    || die "the admin account has no secure token after 30 minutes"
wait_until 600 10 "$ROLE_FILE" role_file_present \
    || die "$ROLE_FILE did not appear within 10 minutes"

# ---- 2. role, SCEP certificate --------------------------------------------------------------
ROLE=$(head -n 1 "$ROLE_FILE" | tr -d '[:space:]')
case $ROLE in
    '' | *[!A-Za-z0-9_.-]*) die "unusable role in $ROLE_FILE: '$ROLE'" ;;
esac
log "role: $ROLE"

LAST_ISSUER=""
# shellcheck disable=SC2329  # invoked through wait_until
scep_certificate_present() {
    LAST_ISSUER=$(/usr/bin/security find-certificate -c "$CERT_NAME" -p "$KEYCHAIN" 2>/dev/null \
        | /usr/bin/openssl x509 -noout -issuer 2>/dev/null)
    case $LAST_ISSUER in
        *"$CA_ISSUER"*) return 0 ;;
    esac
    return 1
}

if ! wait_until 300 5 "the SCEP certificate \"$CERT_NAME\" issued by $CA_ISSUER" scep_certificate_present; then
    die "no certificate \"$CERT_NAME\" issued by $CA_ISSUER in $KEYCHAIN after 5 minutes (issuer seen: '${LAST_ISSUER}')"
fi
log "certificate \"$CERT_NAME\": $LAST_ISSUER"

# ---- 3. secrets -------------------------------------------------------------------------------
VAULT_TMP=$(mktemp /var/root/.vault-yaml.XXXXXX) || die "mktemp /var/root/.vault-yaml.XXXXXX failed"
log "fetching $SECRET_URL_BASE/$ROLE"
HTTP_CODE=$(CURL_SSL_BACKEND=securetransport /usr/bin/curl -sS --fail-with-body --max-time 30 \
    --cert "$CERT_NAME" -w '%{http_code}' -o "$VAULT_TMP" "$SECRET_URL_BASE/$ROLE" 2>>"$LOG")
CURL_RC=$?
if [ "$HTTP_CODE" != 200 ]; then
    die "secrets fetch failed: HTTP ${HTTP_CODE:-none}, curl exit $CURL_RC"
fi
if [ "$CURL_RC" != 0 ]; then
    die "secrets fetch failed: HTTP 200 but curl exit $CURL_RC"
fi
if [ ! -s "$VAULT_TMP" ]; then
    die "secrets fetch returned HTTP 200 with an empty body"
fi
chmod 0600 "$VAULT_TMP" || die "chmod 0600 $VAULT_TMP failed"
chown root:wheel "$VAULT_TMP" || die "chown root:wheel $VAULT_TMP failed"
mv -f "$VAULT_TMP" "$VAULT" || die "mv $VAULT_TMP $VAULT failed"
VAULT_TMP=""
log "secrets written to $VAULT ($(wc -c <"$VAULT" | tr -d ' ') bytes)"

# ---- 4. git -----------------------------------------------------------------------------------
git_works() {
    git --version >>"$LOG" 2>&1
}

if git_works; then
    log "git works"
else
    log "git does not work: installing the Command Line Tools through softwareupdate"
    touch "$CLT_TRIGGER"
    SU_LIST=$(softwareupdate --list 2>&1)
    printf '%s\n' "$SU_LIST" >>"$LOG"
    CLT_LABEL=$(printf '%s\n' "$SU_LIST" \
        | sed -n -e 's/^[[:space:]]*\*[[:space:]]*Label:[[:space:]]*//p' \
                 -e 't' \
                 -e 's/^[[:space:]]*\*[[:space:]]*//p' \
        | grep 'Command Line Tools' \
        | sed -e 's/[[:space:]]*$//' \
        | sort -V | tail -n 1)
    if [ -z "$CLT_LABEL" ]; then
        rm -f "$CLT_TRIGGER"
        die "softwareupdate lists no Command Line Tools"
    fi
    log "installing: $CLT_LABEL"
    softwareupdate -i "$CLT_LABEL" >>"$LOG" 2>&1
    SU_RC=$?
    rm -f "$CLT_TRIGGER"
    log "softwareupdate -i exited $SU_RC"
    git_works || die "git still does not work after installing $CLT_LABEL"
    log "git works"
fi

# ---- 5. settings, checkout --------------------------------------------------------------------
PUPPET_REPO=${PUPPET_REPO:-$DEFAULT_REPO}
PUPPET_BRANCH=${PUPPET_BRANCH:-$DEFAULT_BRANCH}
PUPPET_MAIL=${PUPPET_MAIL:-$DEFAULT_MAIL}
for _v in "$PUPPET_REPO" "$PUPPET_BRANCH" "$PUPPET_MAIL"; do
    case $_v in
        '' | *[!A-Za-z0-9@%+=:,./_~-]*) die "unusable settings value: '$_v'" ;;
    esac
done

# Owner of the repository: the path component before the repository's name
# (https://github.com/OWNER/ronin_puppet.git or git@github.com:OWNER/ronin_puppet.git).
_p=${PUPPET_REPO%/}
_p=${_p%.git}
_p=${_p%/*}
REPO_OWNER=${_p##*/}
REPO_OWNER=${REPO_OWNER##*:}
case $REPO_OWNER in
    '' | *[!A-Za-z0-9_.-]* | . | ..) die "cannot tell the owner of $PUPPET_REPO" ;;
esac
CHECKOUT=$ENV_ROOT/$REPO_OWNER/ronin_puppet

mkdir -p "$ENV_ROOT" || die "cannot create $ENV_ROOT"
_tmp=$(mktemp "$ENV_ROOT/.ronin_settings.XXXXXX") || die "mktemp in $ENV_ROOT failed"
if ! {
    printf 'PUPPET_REPO=%s\n' "$PUPPET_REPO"
    printf 'PUPPET_BRANCH=%s\n' "$PUPPET_BRANCH"
    printf 'PUPPET_MAIL=%s\n' "$PUPPET_MAIL"
} >"$_tmp"; then
    rm -f "$_tmp"
    die "cannot write $SETTINGS"
fi
put_in_place 0644 "$_tmp" "$SETTINGS" || die "cannot write $SETTINGS"
log "wrote $SETTINGS (repo $PUPPET_REPO, branch $PUPPET_BRANCH, mail $PUPPET_MAIL)"

clone_checkout() {
    rm -rf "$CHECKOUT" || return 1
    mkdir -p "${CHECKOUT%/*}" || return 1
    log "cloning $PUPPET_REPO ($PUPPET_BRANCH) into $CHECKOUT"
    git clone --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$CHECKOUT" >>"$LOG" 2>&1
}

update_checkout() {
    log "fetching and resetting $CHECKOUT to origin/$PUPPET_BRANCH"
    git -C "$CHECKOUT" fetch origin >>"$LOG" 2>&1 \
        && git -C "$CHECKOUT" reset --hard "origin/$PUPPET_BRANCH" >>"$LOG" 2>&1
}

if [ -d "$CHECKOUT/.git" ] \
    && [ "$(git -C "$CHECKOUT" config --get remote.origin.url 2>/dev/null)" = "$PUPPET_REPO" ]; then
    if ! update_checkout; then
        log "updating the checkout failed: cloning it again"
        clone_checkout || die "cannot clone $PUPPET_REPO into $CHECKOUT"
    fi
else
    clone_checkout || die "cannot clone $PUPPET_REPO into $CHECKOUT"
fi
log "checkout at $CHECKOUT: $(git -C "$CHECKOUT" rev-parse HEAD 2>/dev/null)"

# ---- 6. ssh root@localhost --------------------------------------------------------------------
if ! { mkdir -p "$SSH_DIR" && chmod 0700 "$SSH_DIR" && chown root:wheel "$SSH_DIR"; }; then
    die "cannot prepare $SSH_DIR"
fi
if [ ! -s "$SSH_KEY" ] || [ ! -s "$SSH_KEY.pub" ]; then
    rm -f "$SSH_KEY" "$SSH_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$KEY_COMMENT" -f "$SSH_KEY" </dev/null >>"$LOG" 2>&1 \
        || die "ssh-keygen failed"
    log "made the ssh key $SSH_KEY"
fi
if ! { chmod 0600 "$SSH_KEY" && chown root:wheel "$SSH_KEY" "$SSH_KEY.pub"; }; then
    die "cannot secure $SSH_KEY"
fi

PUBKEY=$(head -n 1 "$SSH_KEY.pub")
# The public key line ends with the comment; make sure it is the only line with it.
PUBKEY="${PUBKEY% "$KEY_COMMENT"} $KEY_COMMENT"
[ -e "$AUTH_KEYS" ] || : >"$AUTH_KEYS" || die "cannot create $AUTH_KEYS"
_tmp=$(mktemp "$SSH_DIR/.authorized_keys.XXXXXX") || die "mktemp in $SSH_DIR failed"
if ! {
    awk -v c="$KEY_COMMENT" '$NF != c' "$AUTH_KEYS"
    printf '%s\n' "$PUBKEY"
} >"$_tmp"; then
    rm -f "$_tmp"
    die "cannot update $AUTH_KEYS"
fi
put_in_place 0600 "$_tmp" "$AUTH_KEYS" || die "cannot update $AUTH_KEYS"
log "authorized $KEY_COMMENT in $AUTH_KEYS"

if ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -i "$SSH_KEY" root@localhost true \
    </dev/null >>"$LOG" 2>&1; then
    log "ssh root@localhost works"
else
    die "ssh root@localhost with $SSH_KEY does not work"
fi

# ---- 7. the daemon ----------------------------------------------------------------------------
mkdir -p "$DAEMON_DIR" || die "cannot create $DAEMON_DIR"
_tmp=$(mktemp "$DAEMON_DIR/.m4-bootstrap-driver.sh.XXXXXX") || die "mktemp in $DAEMON_DIR failed"
if ! {
    printf '#!/bin/bash\n'
    printf '# m4-bootstrap-driver.sh: the daemon part of the M4 enrolment driver (%s).\n' "$LABEL"
    printf '# Written by the MDM script-job; removes itself once the host is ready.\n'
    printf 'CHECKOUT=%q\n' "$CHECKOUT"
    cat <<'DAEMON_EOF'

LOG=/var/log/m4-bootstrap.log
COMPLETE=/var/log/m4-bootstrap-complete
LABEL=com.mozilla.m4-bootstrap
PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist
SELF=/usr/local/sbin/m4-bootstrap-driver.sh
SSH_KEY=/var/root/.ssh/bootstrap_id_ed25519
AUTH_KEYS=/var/root/.ssh/authorized_keys
KEY_COMMENT=m4-bootstrap-sip-safari
RUN_PUPPET=/usr/local/bin/run-puppet.sh
SAFARI_SEMAPHORE=/Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run
TCC_SEMAPHORE=/var/tmp/semaphore/safari-tcc-perms-applied
SEMAPHORE_DIR=/var/tmp/semaphore
WORKER_SEMAPHORE=$SEMAPHORE_DIR/run-buildbot

set -u
umask 022
for _d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
    case ":${PATH:-}:" in
        *":$_d:"*) ;;
        *) PATH="${PATH:+$PATH:}$_d" ;;
    esac
done
export PATH
if [ -z "${HOME:-}" ]; then
    HOME=/var/root
fi
export HOME

log() {
    local line
    line="$(date '+%Y-%m-%d %H:%M:%S') m4-bootstrap-daemon: $*"
    printf '%s\n' "$line"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null
}

dns_up() {
    dscacheutil -q host -a name github.com 2>/dev/null | grep -q ip_address
}

safari_ready() {
    local first=""
    [ -f "$SAFARI_SEMAPHORE" ] || return 1
    IFS= read -r first <"$SAFARI_SEMAPHORE"
    case $first in
        1*) ;;
        *) return 1 ;;
    esac
    [ -e "$TCC_SEMAPHORE" ]
}

run_puppet_once() {
    local script
    if [ -e "$RUN_PUPPET" ]; then
        script=$RUN_PUPPET
    else
        script=$CHECKOUT/modules/macos_run_puppet/files/run-puppet.sh
        if [ ! -e "$script" ]; then
            log "neither $RUN_PUPPET nor $script exists"
            return 1
        fi
    fi
    if [ ! -s "$SSH_KEY" ]; then
        log "the ssh key $SSH_KEY is missing"
        return 1
    fi
    log "running $script over ssh root@localhost"
    if [ -x "$script" ]; then
        ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -i "$SSH_KEY" \
            root@localhost "$script" </dev/null 2>&1
    else
        ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -i "$SSH_KEY" \
            root@localhost /bin/bash "$script" </dev/null 2>&1
    fi
}

finish() {
    local tmp
    mkdir -p "$SEMAPHORE_DIR"
    : >>"$WORKER_SEMAPHORE" || log "cannot write $WORKER_SEMAPHORE"
    log "wrote $WORKER_SEMAPHORE"
    date -u '+%Y-%m-%dT%H:%M:%SZ' >"$COMPLETE" || log "cannot write $COMPLETE"
    log "wrote $COMPLETE"

    rm -f "$SSH_KEY" "$SSH_KEY.pub"
    log "removed the ssh key $SSH_KEY"
    if [ -f "$AUTH_KEYS" ]; then
        tmp=$(mktemp "${AUTH_KEYS%/*}/.authorized_keys.XXXXXX")
        if [ -n "$tmp" ] && awk -v c="$KEY_COMMENT" '$NF != c' "$AUTH_KEYS" >"$tmp" \
            && chmod 0600 "$tmp" && chown root:wheel "$tmp" && mv -f "$tmp" "$AUTH_KEYS"; then
            log "removed $KEY_COMMENT from $AUTH_KEYS"
        else
            [ -n "$tmp" ] && rm -f "$tmp"
            log "could not remove $KEY_COMMENT from $AUTH_KEYS"
        fi
    fi

    rm -f "$PLIST" "$SELF"
    log "removed $PLIST and $SELF; booting out $LABEL (last step)"
    # This kills this script when launchd runs it (macos-behaviour.md 5.3): nothing after it.
    launchctl bootout "system/$LABEL"
    log "launchctl bootout system/$LABEL returned $?"
    exit 0
}

log "starting at boot, pid $$"

if [ -e "$COMPLETE" ]; then
    log "$COMPLETE exists: finishing the clean-up"
    finish
fi

if dns_up; then
    log "DNS is up"
else
    log "waiting for DNS (up to 60 x 5 s)"
    _n=0
    _up=no
    while [ "$_n" -lt 60 ]; do
        sleep 5
        _n=$((_n + 1))
        if dns_up; then
            _up=yes
            break
        fi
    done
    if [ "$_up" = yes ]; then
        log "DNS is up after $((_n * 5)) s"
    else
        log "DNS still not up after 300 s: going on anyway"
    fi
fi

_try=0
while :; do
    _try=$((_try + 1))
    log "try $_try"
    run_puppet_once
    log "try $_try: run-puppet.sh ended with status $?"
    if safari_ready; then
        log "$SAFARI_SEMAPHORE starts with 1 and $TCC_SEMAPHORE exists"
        break
    fi
    log "Safari/TCC semaphores not there yet: next try in 30 s"
    sleep 30
done

finish
DAEMON_EOF
} >"$_tmp"; then
    rm -f "$_tmp"
    die "cannot write $DAEMON_SCRIPT"
fi
put_in_place 0755 "$_tmp" "$DAEMON_SCRIPT" || die "cannot write $DAEMON_SCRIPT"
log "wrote $DAEMON_SCRIPT"

_tmp=$(mktemp "${PLIST%/*}/.com.mozilla.m4-bootstrap.plist.XXXXXX") || die "mktemp in ${PLIST%/*} failed"
if ! cat >"$_tmp" <<PLIST_EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key>
    <string>$LABEL</string>
    <key>ProgramArguments</key>
    <array>
        <string>/bin/bash</string>
        <string>$DAEMON_SCRIPT</string>
    </array>
    <key>RunAtLoad</key>
    <true/>
    <key>StandardOutPath</key>
    <string>/var/log/m4-bootstrap-driver.out</string>
    <key>StandardErrorPath</key>
    <string>/var/log/m4-bootstrap-driver.err</string>
</dict>
</plist>
PLIST_EOF
then
    rm -f "$_tmp"
    die "cannot write $PLIST"
fi
put_in_place 0644 "$_tmp" "$PLIST" || die "cannot write $PLIST"
log "wrote $PLIST"

if _out=$(launchctl bootstrap system "$PLIST" 2>&1); then
    log "launchctl bootstrap system $PLIST: done"
else
    _rc=$?
    log "launchctl bootstrap system $PLIST failed (exit $_rc)${_out:+: $_out}; trying launchctl load -w"
    _out=$(launchctl load -w "$PLIST" 2>&1)
    log "launchctl load -w $PLIST exited $?${_out:+: $_out}"
fi

log "driver done: $LABEL takes over"
exit 0
