#!/bin/bash
#
# run-puppet.sh - bootstrap a Mac CI worker with masterless Puppet (ronin_puppet).
#
# Runs as root (MDM, ssh, Bolt, the host's regular mechanism, or its own LaunchDaemon).
# Keeps a checkout of the Puppet repository and applies the role in /etc/puppet_role
# until the apply is clean, rebooting when cltbld's TCC database does not exist yet.
# Until the host is handed over to its regular mechanism it registers itself as the
# LaunchDaemon com.mozilla.ronin-puppet-bootstrap, which runs it again at every boot
# (not while the M4 enrolment driver's daemon does that already); once handed over it
# writes the worker semaphore and removes that LaunchDaemon.
# Only one copy runs at a time. Settings: /opt/puppet_environments/ronin_settings.
# Log: /var/log/ronin-puppet-bootstrap.log. Written for macOS's /bin/bash 3.2.
#
# Exit codes:
#   0  puppet applied cleanly
#   1  a precondition is missing (role, puppet, facter) or a setting is invalid
#   2  /var/root/vault.yaml is missing
#   3  another run-puppet.sh held the lock longer than this one waits
#   other: an unexpected command failure (set -e); the log shows what ran last
# A failed apply does not end the script: it retries until the apply is clean.

set -euo pipefail

# launchd gives daemons PATH=/usr/bin:/bin:/usr/sbin:/sbin and no HOME; puppet lives in
# /opt/puppetlabs/bin and git refuses to run without HOME.
readonly DAEMON_PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin
export PATH="$DAEMON_PATH"
export HOME="${HOME:-/var/root}"
umask 022

readonly SCRIPT_SOURCE="${BASH_SOURCE[0]:-}"
readonly SETTINGS_FILE=/opt/puppet_environments/ronin_settings
readonly STATE_LIB=/opt/puppet_environments/lib/puppet_state_functions.sh
readonly STATE_FILE=/opt/puppet_environments/last_run_metadata.json
readonly ROLE_FILE=/etc/puppet_role
readonly PUPPET_BIN=/opt/puppetlabs/bin/puppet
readonly FACTER_BIN=/opt/puppetlabs/bin/facter
readonly VAULT_SOURCE=/var/root/vault.yaml
readonly TCC_DB="/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"
readonly TCC_REBOOTS_FILE=/var/tmp/ronin-puppet-bootstrap.tcc-reboots
readonly SEMAPHORE_DIR=/var/tmp/semaphore
readonly SEMAPHORE=/var/tmp/semaphore/run-buildbot
readonly BOOT_LABEL=com.mozilla.ronin-puppet-bootstrap
readonly BOOT_PLIST=/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist
readonly BOOT_SCRIPT_DIR=/usr/local/sbin
readonly BOOT_SCRIPT=/usr/local/sbin/ronin-puppet-bootstrap.sh
# The M4 enrolment driver's daemon and the puppet classes whose semaphores end its runs.
readonly DRIVER_PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist
readonly DRIVER_SCRIPT=/usr/local/sbin/m4-bootstrap-driver.sh
readonly SAFARI_SEMAPHORE=/Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run
readonly TCC_SEMAPHORE=/var/tmp/semaphore/safari-tcc-perms-applied
readonly LOG_FILE=/var/log/ronin-puppet-bootstrap.log
readonly SSH_DIR=/var/root/.ssh
readonly SSH_KEY=/var/root/.ssh/ronin-puppet-bootstrap_ed25519
# macOS empties /var/run at boot, so a lock left by a power loss or a reboot is gone
# before the next boot's run looks; within a boot, a holder pid that is not alive marks
# it stale. macOS has no flock(1): mkdir is the atomic test-and-set.
readonly LOCK_DIR=/var/run/ronin-run-puppet.lock
readonly LOCK_WAIT_S=3600 LOCK_POLL_S=10 DNS_WAIT_S=300 DNS_POLL_S=10
readonly RETRY_SLEEP_S=60 REBOOT_WAIT_S=300 TCC_REBOOT_LIMIT=3 MAIL_EVERY_N_FAILURES=60
readonly EXIT_PRECONDITION=1 EXIT_NO_VAULT=2 EXIT_BUSY=3

# The defaults; only the settings file overrides them, never the environment.
PUPPET_REPO=https://github.com/mozilla-platform-ops/ronin_puppet.git
PUPPET_BRANCH=master
PUPPET_MAIL=""
PUPPET_SMTP_RELAY=""
REGULAR_PLISTS=(/Library/LaunchDaemons/com.mozilla.atboot_puppet.plist
    /Library/LaunchDaemons/org.mozilla.worker-runner.plist
    /Library/LaunchDaemons/com.mozilla.periodic.plist)

ROLE="" CHECKOUT="" HOST_FQDN=unknown COMMIT=unknown RUN_LOG="" SELF_COPY=""
LOG_IS_STDOUT=0 LOCK_HELD=0 FAILED_APPLIES=0 TCC_LIMIT_MAILED=0 LOCAL_SSH_OK=0 REMOTE_COMMAND=""
PUPPET_APPLY=("$PUPPET_BIN" apply
    --modulepath=./modules:./r10k_modules:/etc/puppetlabs/code/environments/production/modules
    --hiera_config=./hiera.yaml --logdest=console --color=false --detailed-exitcodes ./manifests/)

readonly MAILER_PY='import smtplib, socket, sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "root@" + socket.getfqdn(), sys.argv[1], sys.argv[3]
msg.set_content(sys.stdin.read())
smtplib.SMTP(sys.argv[2], timeout=60).send_message(msg)'

log() {
    local line
    line="$(date '+%Y-%m-%d %H:%M:%S') run-puppet.sh[$$]: $*"
    # On a full disk the log refuses writes, and under launchd stdout is the log: that
    # must not end the run (set -e), which retries until someone frees room.
    printf '%s\n' "$line" || true
    # Run by launchd, stdout already is the log (StandardOutPath): write each line once.
    if [ "$LOG_IS_STDOUT" -eq 0 ]; then printf '%s\n' "$line" >>"$LOG_FILE" 2>/dev/null || true; fi
}

die() {
    log "ERROR: ${*:2}"
    exit "$1"
}

# Copy this script's bytes now: MDM's temporary path may be gone by the time the copy is
# installed. From stdin there is no file (the shebang check rules out /bin/bash itself).
capture_self() {
    local first_line=""
    if [ -f "$SCRIPT_SOURCE" ] && [ -r "$SCRIPT_SOURCE" ]; then
        IFS= read -r first_line <"$SCRIPT_SOURCE" || true
    fi
    if [[ $first_line == '#!'* ]]; then
        SELF_COPY=$(mktemp /tmp/ronin-puppet-bootstrap.self.XXXXXX) || return 0
        cat "$SCRIPT_SOURCE" >"$SELF_COPY" || { rm -f "$SELF_COPY"; SELF_COPY=""; }
    fi
}

on_exit() {
    local status=$?
    release_lock
    if [ -n "$SELF_COPY" ]; then rm -f "$SELF_COPY"; fi
    log "exiting with status $status"
}

# KEY=value lines on stdin are parsed, never sourced: the file is data, not code.
# An empty value keeps the default.
parse_settings() {
    local line key value skip_re='^[[:space:]]*(#.*)?$' quoted_re="^([\"'])(.*)[\"']\$"
    local line_re='^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$'
    while IFS= read -r line || [ -n "$line" ]; do
        if [[ $line =~ $skip_re ]]; then continue; fi
        if [[ ! $line =~ $line_re ]]; then
            log "ignoring a line of $SETTINGS_FILE that is not KEY=value: $line"
            continue
        fi
        key=${BASH_REMATCH[2]}
        value=${BASH_REMATCH[3]%"${BASH_REMATCH[3]##*[![:space:]]}"}
        if [[ $value =~ $quoted_re ]]; then value=${BASH_REMATCH[2]}; fi
        if [ -z "$value" ]; then continue; fi
        case "$key" in
            PUPPET_REPO) PUPPET_REPO=$value ;;
            PUPPET_BRANCH) PUPPET_BRANCH=$value ;;
            PUPPET_MAIL) PUPPET_MAIL=$value ;;
            PUPPET_SMTP_RELAY) PUPPET_SMTP_RELAY=$value ;;
            PUPPET_REGULAR_PLISTS) read -r -a REGULAR_PLISTS <<<"$value" ;;
            *) log "ignoring unknown setting $key in $SETTINGS_FILE" ;;
        esac
    done
}

load_settings() {
    local owner_re='github\.com[:/]([A-Za-z0-9][A-Za-z0-9_.-]*)/[^/]+$'
    local branch_re='^[A-Za-z0-9._][A-Za-z0-9._/-]*$'
    if [ -f "$SETTINGS_FILE" ]; then
        parse_settings <"$SETTINGS_FILE"
    else
        log "no $SETTINGS_FILE: using the default settings"
    fi
    if [[ ! $PUPPET_REPO =~ $owner_re ]]; then
        die "$EXIT_PRECONDITION" "PUPPET_REPO '$PUPPET_REPO' is not a github.com/<owner>/<repo> URL"
    fi
    CHECKOUT="/opt/puppet_environments/${BASH_REMATCH[1]}/ronin_puppet"
    if [[ ! $PUPPET_BRANCH =~ $branch_re ]]; then
        die "$EXIT_PRECONDITION" "PUPPET_BRANCH '$PUPPET_BRANCH' is not a branch name"
    fi
    log "settings: repo $PUPPET_REPO, branch $PUPPET_BRANCH, checkout $CHECKOUT," \
        "regular mechanisms: ${REGULAR_PLISTS[*]:-none}"
}

check_preconditions() {
    local role="" problems="" role_re='^[a-z][a-z0-9_]*$'
    if [ -r "$ROLE_FILE" ]; then IFS= read -r role <"$ROLE_FILE" || true; fi
    role=${role//[[:space:]]/}
    if [ -z "$role" ]; then
        problems="$ROLE_FILE is missing or empty (MDM has not delivered the role yet); "
    elif [[ ! $role =~ $role_re ]]; then
        problems="$ROLE_FILE holds '$role', which is not a Puppet role name; "
    fi
    if [ ! -x "$PUPPET_BIN" ]; then problems+="$PUPPET_BIN is missing or not executable; "; fi
    if [ ! -x "$FACTER_BIN" ]; then problems+="$FACTER_BIN is missing or not executable; "; fi
    if [ -n "$problems" ]; then
        die "$EXIT_PRECONDITION" "${problems}nothing changed, $BOOT_LABEL not registered"
    fi
    ROLE=$role
    log "role $ROLE; puppet and facter are installed"
}

lock_holder() {
    local pid=""
    IFS= read -r pid 2>/dev/null <"$LOCK_DIR/pid" || true
    printf '%s' "$pid"
}

# A second mkdir guards the removal, so that two waiters cannot both find the lock
# stale and one remove the fresh lock the other has just taken.
break_stale_lock() {
    mkdir "$LOCK_DIR.break" 2>/dev/null || return 1
    if [ "$(lock_holder)" = "$1" ]; then
        log "lock $LOCK_DIR was left by pid $1, which is not running: removing it"
        rm -rf "$LOCK_DIR"
    fi
    rmdir "$LOCK_DIR.break"
}

acquire_lock() {
    local waited=0 holder
    while ! mkdir "$LOCK_DIR" 2>/dev/null; do
        holder=$(lock_holder)
        # An empty pid is a holder between its mkdir and its pid write: not stale.
        if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null && break_stale_lock "$holder"; then
            continue
        elif [ "$waited" -ge "$LOCK_WAIT_S" ]; then
            log "run-puppet.sh pid ${holder:-?} still holds $LOCK_DIR after ${waited} s:" \
                "exiting without changing anything (exit $EXIT_BUSY)"
            return 1
        elif [ "$waited" -eq 0 ]; then
            log "run-puppet.sh pid ${holder:-?} holds $LOCK_DIR: waiting up to ${LOCK_WAIT_S} s"
        fi
        sleep "$LOCK_POLL_S"
        waited=$((waited + LOCK_POLL_S))
    done
    printf '%s\n' "$$" >"$LOCK_DIR/pid"
    LOCK_HELD=1
    log "took the lock $LOCK_DIR (after waiting ${waited} s)"
}

release_lock() {
    if [ "$LOCK_HELD" -eq 1 ] && [ "$(lock_holder)" = "$$" ]; then rm -rf "$LOCK_DIR"; fi
    LOCK_HELD=0
}

# Stdin goes to a temporary file in DEST's directory, renamed over DEST: a power loss
# leaves the old file or the whole new one, and a reader of the old inode is unharmed.
write_atomically() {
    local dest="$1" mode="$2" owner="${3:-}" tmp="${1%/*}/.${1##*/}.tmp.$$"
    rm -f "${dest%/*}/.${dest##*/}.tmp."*
    if (umask 077 && cat >"$tmp") && chmod "$mode" "$tmp" \
        && { [ -z "$owner" ] || chown "$owner" "$tmp"; } && mv -f "$tmp" "$dest"; then
        return 0
    fi
    rm -f "$tmp"
    log "ERROR: could not write $dest"
    return 1
}

first_regular_plist() {
    local plist
    for plist in ${REGULAR_PLISTS[@]+"${REGULAR_PLISTS[@]}"}; do
        if [ -f "$plist" ]; then
            printf '%s\n' "$plist"
            return 0
        fi
    done
    return 1
}

# From the private copy, never `install "$0" ...`: BSD install exits 64 when this run
# already is that file, and MDM's temporary path may be gone by now.
install_script_copy() {
    if [ -z "$SELF_COPY" ] && [ -f "$BOOT_SCRIPT" ]; then
        log "started from stdin: keeping the existing $BOOT_SCRIPT"
        return 0
    elif [ -z "$SELF_COPY" ]; then
        log "started from stdin and $BOOT_SCRIPT does not exist: no script to register"
        return 1
    fi
    if [ ! -d "$BOOT_SCRIPT_DIR" ]; then
        mkdir -p "$BOOT_SCRIPT_DIR" || return 1
        chown root:wheel "$BOOT_SCRIPT_DIR" && chmod 755 "$BOOT_SCRIPT_DIR" || return 1
        log "created $BOOT_SCRIPT_DIR"
    fi
    write_atomically "$BOOT_SCRIPT" 755 root:wheel <"$SELF_COPY" || return 1
    log "installed this script as $BOOT_SCRIPT"
}

bootstrap_plist_xml() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key> <string>${BOOT_LABEL}</string>
	<key>ProgramArguments</key>
	<array> <string>/bin/bash</string> <string>${BOOT_SCRIPT}</string> </array>
	<key>RunAtLoad</key> <true/>
	<key>LaunchOnlyOnce</key> <true/>
	<key>StandardOutPath</key> <string>${LOG_FILE}</string>
	<key>StandardErrorPath</key> <string>${LOG_FILE}</string>
	<key>EnvironmentVariables</key>
	<dict>
		<key>LANG</key> <string>en_US.UTF-8</string>
		<key>PATH</key> <string>${DAEMON_PATH}</string>
	</dict>
</dict>
</plist>
EOF
}

# On SIP-enabled M4 hosts MDM's script-job is the enrolment driver, whose daemon runs this
# script over ssh at every boot until puppet's Safari and TCC classes have run (their
# semaphores exist). While it will, it is this script's way back after a reboot: a daemon of
# our own would only start a second copy at every boot.
driver_runs_this_at_boot() {
    [ -f "$DRIVER_PLIST" ] && [ -s "$DRIVER_SCRIPT" ] || return 1
    [ "$(head -c 1 "$SAFARI_SEMAPHORE" 2>/dev/null)" != 1 ] || [ ! -e "$TCC_SEMAPHORE" ]
}

# Written, deliberately not loaded: loading a RunAtLoad job starts it at once, a second
# copy running alongside this one. launchd starts it at the next boot.
register_bootstrap() {
    local mechanism
    if mechanism=$(first_regular_plist); then
        log "host already handed over ($mechanism is on disk): not registering $BOOT_LABEL"
        return 0
    elif driver_runs_this_at_boot; then
        log "the M4 enrolment driver's daemon ($DRIVER_PLIST) runs this script at every boot" \
            "until puppet's Safari and TCC classes have run: not registering $BOOT_LABEL"
        return 0
    fi
    install_script_copy || return 1
    bootstrap_plist_xml | write_atomically "$BOOT_PLIST" 644 root:wheel || return 1
    # An earlier `launchctl unload -w` or `disable` leaves the label disabled in launchd's
    # override database, and then launchd never starts it at boot, plist or not.
    launchctl enable "system/$BOOT_LABEL" >>"$LOG_FILE" 2>&1 \
        || log "WARNING: launchctl enable system/$BOOT_LABEL exited $?"
    log "registered $BOOT_LABEL: it runs at every boot until the host is handed over"
}

# The fleet's script exited 0 here, quietly, and the host sat unconfigured with nothing
# in any log. Fail loudly instead; the bootstrap stays registered, so putting the file
# in place and rebooting (or running this again) resumes.
require_vault() {
    if [ ! -f "$VAULT_SOURCE" ]; then
        die "$EXIT_NO_VAULT" "$VAULT_SOURCE is missing: puppet cannot run without its secrets;" \
            "copy it to this host, then reboot or run run-puppet.sh again"
    fi
}

dns_ready() {
    local answer
    answer=$(dscacheutil -q host -a name github.com 2>/dev/null) || return 1
    [[ $answer == *ip_address* ]]
}

# A RunAtLoad daemon can start before DHCP and DNS are up.
wait_for_dns() {
    local waited=0
    while ! dns_ready; do
        if [ "$waited" -ge "$DNS_WAIT_S" ]; then
            log "github.com still does not resolve after ${waited} s: trying again later"
            return 1
        elif [ "$waited" -eq 0 ]; then
            log "github.com does not resolve (network not up yet?): waiting up to ${DNS_WAIT_S} s"
        fi
        sleep "$DNS_POLL_S"
        waited=$((waited + DNS_POLL_S))
    done
    if [ "$waited" -gt 0 ]; then log "github.com resolves after ${waited} s"; fi
}

in_checkout() {
    (cd "$CHECKOUT" && "$@")
}

checkout_is_current_repo() {
    local url
    [ -d "$CHECKOUT/.git" ] || return 1
    url=$(in_checkout git config --get remote.origin.url 2>/dev/null) || return 1
    [ "$url" = "$PUPPET_REPO" ]
}

# Cloned beside the checkout and renamed into place: an interrupted clone never leaves
# a half-made checkout that looks usable.
clone_checkout() {
    local partial="$CHECKOUT.partial"
    rm -rf "$partial" && mkdir -p "${CHECKOUT%/*}" || return 1
    if ! git clone --quiet --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$partial" \
        >>"$LOG_FILE" 2>&1; then
        log "git clone of $PUPPET_REPO failed: trying again later"
        rm -rf "$partial"
        return 1
    fi
    rm -rf "$CHECKOUT" && mv "$partial" "$CHECKOUT" || return 1
    log "cloned $PUPPET_REPO ($PUPPET_BRANCH) into $CHECKOUT"
}

update_checkout() {
    local head target
    if ! in_checkout git fetch --quiet origin >>"$LOG_FILE" 2>&1; then
        log "git fetch in $CHECKOUT failed: trying again later"
        return 1
    fi
    head=$(in_checkout git rev-parse HEAD 2>>"$LOG_FILE") || return 1
    if ! target=$(in_checkout git rev-parse "origin/$PUPPET_BRANCH" 2>>"$LOG_FILE"); then
        log "origin has no branch $PUPPET_BRANCH: trying again later"
        return 1
    elif [ "$head" = "$target" ]; then
        log "checkout is at origin/$PUPPET_BRANCH ($head)"
        return 0
    fi
    log "origin/$PUPPET_BRANCH moved to $target (checkout at $head): hard-resetting"
    in_checkout git reset --quiet --hard "origin/$PUPPET_BRANCH" >>"$LOG_FILE" 2>&1
}

# A power cut or a reboot during a git command leaves its lock files behind (.git/index.lock
# after a reset or a checkout, ref locks after a fetch), and every later git command that needs
# one fails with "File exists" until someone removes it by hand. This script holds its run lock
# and is the checkout's only git user, so a lock found here is stale.
clear_stale_git_locks() {
    local lock
    while IFS= read -r lock; do
        log "removing $lock, left by an interrupted git command"
        rm -f "$lock"
    done < <(find "$CHECKOUT/.git" -name '*.lock' -type f 2>/dev/null)
}

sync_checkout() {
    wait_for_dns || return 1
    if [ ! -d "$CHECKOUT/.git" ]; then
        log "no checkout at $CHECKOUT: cloning"
        clone_checkout
    elif ! checkout_is_current_repo; then
        log "$CHECKOUT does not track $PUPPET_REPO (the remote URL changed): re-cloning"
        clone_checkout
    else
        clear_stale_git_locks
        update_checkout
    fi
}

# Puts the secrets and this host's node definition into the checkout.
prepare_checkout() {
    local fqdn fqdn_re='^[A-Za-z0-9][A-Za-z0-9.-]*$'
    mkdir -p "$CHECKOUT/data/secrets" "$CHECKOUT/manifests/nodes" || return 1
    write_atomically "$CHECKOUT/data/secrets/vault.yaml" 600 <"$VAULT_SOURCE" || return 1
    fqdn=$("$FACTER_BIN" networking.fqdn 2>>"$LOG_FILE") || fqdn=""
    if [[ ! $fqdn =~ $fqdn_re ]]; then
        log "facter networking.fqdn gave '$fqdn', not a host name: trying again later"
        return 1
    fi
    HOST_FQDN=$fqdn
    printf "node '%s' {\n  include roles_profiles::roles::%s\n}\n" "$fqdn" "$ROLE" \
        | write_atomically "$CHECKOUT/manifests/nodes/nodes.pp" 644
}

# Puppet started by launchd (or by MDM's mdmclient, a daemon too) has no user-session TCC
# context: on a SIP host it is denied cltbld's TCC database even as root. Over ssh to this
# Mac it inherits sshd's grants, so unless this run already is in an ssh session the apply
# goes through root@localhost, with a key of its own that only localhost may use.
local_ssh() {
    ssh -n -i "$SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new \
        -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o LogLevel=ERROR root@localhost "$@"
}

local_ssh_ready() {
    local key
    if [ "$LOCAL_SSH_OK" -eq 1 ]; then return 0; fi
    mkdir -p "$SSH_DIR" && chmod 700 "$SSH_DIR" || return 1
    # Checked by reading it, not by its existence: a power cut can leave the file empty.
    if ! key=$(ssh-keygen -y -f "$SSH_KEY" 2>/dev/null); then
        rm -f "$SSH_KEY" "$SSH_KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$BOOT_LABEL" -f "$SSH_KEY" >>"$LOG_FILE" 2>&1 || return 1
        key=$(ssh-keygen -y -f "$SSH_KEY") || return 1
    fi
    if ! grep -qF "$key" "$SSH_DIR/authorized_keys" 2>/dev/null; then
        # A line cut short by a power cut must not swallow the new one.
        if [ -s "$SSH_DIR/authorized_keys" ] && [ -n "$(tail -c 1 "$SSH_DIR/authorized_keys")" ]; then
            printf '\n' >>"$SSH_DIR/authorized_keys"
        fi
        printf 'from="127.0.0.1,::1",restrict %s\n' "$key" >>"$SSH_DIR/authorized_keys" || return 1
        chmod 600 "$SSH_DIR/authorized_keys"
    fi
    if ! local_ssh true >>"$LOG_FILE" 2>&1; then
        log "WARNING: ssh root@localhost does not work (is Remote Login on?): applying from this" \
            "context, where cltbld's TCC database may be denied"
        return 1
    fi
    LOCAL_SSH_OK=1
}

# Appends one word to REMOTE_COMMAND, single-quoted for the remote shell (a subshell only
# for the rare word that holds a quote).
add_word() {
    case "$1" in
        *\'*) REMOTE_COMMAND+=" '$(printf '%s' "$1" | sed "s/'/'\\\\''/g")'" ;;
        *) REMOTE_COMMAND+=" '$1'" ;;
    esac
}

# The same directory, arguments and puppet environment as a direct apply: the FACTER_*
# variables this run was given, the two the bootstrap sets, PATH and LANG.
build_remote_apply() {
    local name
    REMOTE_COMMAND="cd"
    add_word "$CHECKOUT"
    REMOTE_COMMAND+=" && exec env"
    for name in $(compgen -e); do
        case "$name" in
            FACTER_PUPPETIZING | FACTER_puppet_role) ;;
            FACTER_*) add_word "$name=${!name}" ;;
        esac
    done
    add_word FACTER_PUPPETIZING=true
    add_word "FACTER_puppet_role=$ROLE"
    add_word "PATH=$PATH"
    if [ -n "${LANG:-}" ]; then add_word "LANG=$LANG"; fi
    for name in ${PUPPET_APPLY[@]+"${PUPPET_APPLY[@]}"}; do add_word "$name"; done
}

# Clean means a detailed exit code of 0 or 2 and no output line starting with "Error:".
apply_once() {
    local status started
    if [ -n "$RUN_LOG" ]; then rm -f "$RUN_LOG"; fi
    RUN_LOG=$(mktemp /tmp/run-puppet.log.XXXXXX) || return 1
    COMMIT=$(in_checkout git rev-parse HEAD 2>/dev/null) || COMMIT=unknown
    log "applying role $ROLE at $COMMIT (attempt $1); puppet output in $RUN_LOG"
    started=$(date +%s)
    set +e
    if [ -z "${SSH_CONNECTION:-}" ] && local_ssh_ready; then
        log "applying through ssh root@localhost, for a user-session TCC context"
        build_remote_apply
        local_ssh "$REMOTE_COMMAND" 2>&1 | tee "$RUN_LOG"
    else
        (cd "$CHECKOUT" && FACTER_PUPPETIZING=true FACTER_puppet_role="$ROLE" \
            ${PUPPET_APPLY[@]+"${PUPPET_APPLY[@]}"}) 2>&1 | tee "$RUN_LOG"
    fi
    status=${PIPESTATUS[0]}
    set -e
    if [ "$LOG_IS_STDOUT" -eq 0 ]; then cat "$RUN_LOG" >>"$LOG_FILE" 2>/dev/null || true; fi
    write_run_metadata "$status" "$(($(date +%s) - started))"
    if [ "$status" -eq 255 ] && [ "$LOCAL_SSH_OK" -eq 1 ]; then
        LOCAL_SSH_OK=0
        log "ssh root@localhost failed (exit 255): the apply did not run"
        return 1
    elif [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
        log "puppet apply failed: exit $status (1: run failed, 4: resources failed, 6: both)"
        return 1
    elif grep -q '^Error:' "$RUN_LOG"; then
        log "puppet exited $status but printed Error: lines: counting the apply as failed"
        return 1
    fi
    log "puppet applied cleanly (exit $status)"
}

# Sourced in a subshell, so the library cannot change this script's options or state.
# The fleet's hook: write_puppet_state WORKING_DIR ROLE EXIT_CODE DURATION_S OVERRIDE_PATH
# VAULT_PATH STATE_FILE. $1: puppet's exit code; $2: the apply's duration in seconds.
write_run_metadata() {
    if [ ! -f "$STATE_LIB" ]; then return 0; fi
    # shellcheck source=/dev/null
    if (set +eu && . "$STATE_LIB" && declare -F write_puppet_state >/dev/null \
        && write_puppet_state "$CHECKOUT" "$ROLE" "$1" "$2" "$SETTINGS_FILE" "$VAULT_SOURCE" "$STATE_FILE") \
        >>"$LOG_FILE" 2>&1; then
        log "wrote run metadata (puppet exit $1, $2 s)"
    else
        log "WARNING: no run metadata: $STATE_LIB failed or lacks write_puppet_state"
    fi
}

# cltbld's TCC database appears only after its first (auto)login: a missing file calls for
# a reboot, one denied or locked does not (that rebooted hosts forever). The count in
# /var/tmp survives reboots and stops a host without autologin rebooting forever too.
handle_tcc_failure() {
    local count=""
    grep -qF "unable to open database \"$TCC_DB" "$RUN_LOG" || return 0
    if [ -e "$TCC_DB" ]; then
        log "puppet could not open $TCC_DB, which exists (denied or locked): no reboot"
        return 0
    fi
    IFS= read -r count 2>/dev/null <"$TCC_REBOOTS_FILE" || true
    case "$count" in '' | *[!0-9]*) count=0 ;; esac
    if [ "$count" -ge "$TCC_REBOOT_LIMIT" ]; then
        log "ERROR: $TCC_DB still missing after $count TCC reboots: not rebooting again;" \
            "is cltbld's autologin configured (/etc/kcpassword)? Retrying without a reboot"
        if [ "$TCC_LIMIT_MAILED" -eq 0 ]; then
            TCC_LIMIT_MAILED=1
            send_report "TCC database missing after $count reboots on $HOST_FQDN ($ROLE)" \
                "$TCC_DB does not exist after $count reboots; check cltbld's autologin."
        fi
        return 0
    fi
    count=$((count + 1))
    printf '%s\n' "$count" | write_atomically "$TCC_REBOOTS_FILE" 644 || return 0
    log "$TCC_DB does not exist: rebooting so that cltbld logs in and macOS creates it" \
        "(TCC reboot $count of $TCC_REBOOT_LIMIT)"
    if ! shutdown -r now >>"$LOG_FILE" 2>&1; then
        log "WARNING: shutdown -r now failed: retrying without a reboot"
        return 0
    fi
    # shutdown returns at once and launchd ends this script during the reboot: wait for
    # that rather than start an apply it would cut short.
    sleep "$REBOOT_WAIT_S"
    log "WARNING: still running ${REBOOT_WAIT_S} s after shutdown -r now: retrying without a reboot"
}

# Best effort: a report that cannot be sent never stops the bootstrap.
send_report() {
    if [ -z "$PUPPET_MAIL" ] || [ -z "$PUPPET_SMTP_RELAY" ]; then
        log "no PUPPET_MAIL or PUPPET_SMTP_RELAY set: not mailing '$1'"
    elif python3 -c "$MAILER_PY" "$PUPPET_MAIL" "$PUPPET_SMTP_RELAY" "$1" <<<"$2" >>"$LOG_FILE" 2>&1
    then
        log "mailed '$1' to $PUPPET_MAIL"
    else
        log "WARNING: could not mail '$1' to $PUPPET_MAIL via $PUPPET_SMTP_RELAY (ignored)"
    fi
}

# The first failure is mailed, then one in MAIL_EVERY_N_FAILURES (about hourly): a host
# retrying every minute must not flood the list.
report_failure() {
    local body
    FAILED_APPLIES=$((FAILED_APPLIES + 1))
    if [ $(((FAILED_APPLIES - 1) % MAIL_EVERY_N_FAILURES)) -ne 0 ]; then return 0; fi
    body="Host $HOST_FQDN, role $ROLE, $PUPPET_REPO $PUPPET_BRANCH at $COMMIT, attempt $1.
Last lines of the puppet output:
$(tail -n 100 "$RUN_LOG" 2>/dev/null || true)
run-puppet.sh retries every ${RETRY_SLEEP_S} s; full log in $LOG_FILE."
    send_report "puppet apply failed on $HOST_FQDN ($ROLE)" "$body"
}

attempt_apply() {
    if ! checkout_is_current_repo; then
        log "no usable checkout of $PUPPET_REPO yet: nothing to apply"
        return 1
    fi
    require_vault
    prepare_checkout || return 1
    if apply_once "$1"; then return 0; fi
    handle_tcc_failure
    report_failure "$1"
    return 1
}

# A failed sync (network, git) still applies the checkout already on disk, and the next
# pass syncs again: no transient failure ends this loop.
apply_until_clean() {
    local attempt=1
    while :; do
        sync_checkout || log "could not update $CHECKOUT on this pass"
        if [ "$attempt" -gt 1 ]; then
            log "waiting ${RETRY_SLEEP_S} s before attempt $attempt"
            sleep "$RETRY_SLEEP_S"
        fi
        if attempt_apply "$attempt"; then return 0; fi
        attempt=$((attempt + 1))
    done
}

# The worker user cltbld reads the semaphore and may remove and re-create it; a root-only
# directory once kept a host from starting its worker. So cltbld:staff owns the directory,
# mode 0755 keeps it readable should that chown fail, and the file is world-readable.
write_semaphore() {
    mkdir -p "$SEMAPHORE_DIR"
    chmod 755 "$SEMAPHORE_DIR"
    chown cltbld:staff "$SEMAPHORE_DIR" 2>>"$LOG_FILE" \
        || log "WARNING: could not chown $SEMAPHORE_DIR to cltbld:staff: it stays root's, 0755"
    printf 'puppet applied cleanly at %s: role %s, commit %s\n' \
        "$(date '+%Y-%m-%d %H:%M:%S')" "$ROLE" "$COMMIT" | write_atomically "$SEMAPHORE" 644
    chown cltbld:staff "$SEMAPHORE" 2>>"$LOG_FILE" || true
    log "wrote the worker semaphore $SEMAPHORE"
}

# The job's name is its Label, not the file name (com.mozilla.atboot_puppet.plist holds
# org.mozilla.atboot_puppet). Matched in bash ([[:space:]] spans newlines): no plist tool.
plist_label() {
    local text re='<key>Label</key>[[:space:]]*<string>([A-Za-z0-9._-]+)</string>'
    text=$(<"$1") || return 1
    [[ $text =~ $re ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}

job_loaded() {
    launchctl print "system/$1" >/dev/null 2>&1
}

# launchd reads new plists only at boot: a mechanism puppet has just written does not
# run in this boot until it is loaded.
activate_regular_mechanisms() {
    local plist label
    for plist in ${REGULAR_PLISTS[@]+"${REGULAR_PLISTS[@]}"}; do
        if [ ! -f "$plist" ]; then
            continue
        elif ! label=$(plist_label "$plist"); then
            log "WARNING: no Label found in $plist: not loading it (launchd loads it at boot)"
        elif job_loaded "$label"; then
            log "$label ($plist) is already loaded"
        else
            log "$label ($plist) is not loaded in this boot: loading it"
            launchctl load -w "$plist" >>"$LOG_FILE" 2>&1 || true
            # launchctl load exits 0 even when the load fails: look rather than trust it.
            if job_loaded "$label"; then
                log "loaded $label"
            else
                log "WARNING: launchctl load did not load $label: it starts at the next boot"
            fi
        fi
    done
}

# Files first, bootout last: when this run is the bootstrap job, the bootout ends it.
# The lock is held until then, so a copy waiting for it cannot start an apply that the
# bootout would kill; if this run dies holding it, the next waiter finds it stale.
remove_bootstrap() {
    if [ -e "$BOOT_PLIST" ] || [ -e "$BOOT_SCRIPT" ]; then
        rm -f "$BOOT_PLIST" "$BOOT_SCRIPT"
        log "removed $BOOT_PLIST and $BOOT_SCRIPT"
    fi
    if job_loaded "$BOOT_LABEL"; then
        log "booting out system/$BOOT_LABEL, the last step (it ends this run if it is that job)"
        launchctl bootout "system/$BOOT_LABEL" >>"$LOG_FILE" 2>&1 \
            || log "launchctl bootout exited $? (ignored: without its plist it cannot run again)"
    fi
}

hand_over() {
    log "puppet applied cleanly and $1 is on disk: handing the host over"
    write_semaphore
    activate_regular_mechanisms
    remove_bootstrap
}

main() {
    local mechanism
    if [ /dev/stdout -ef "$LOG_FILE" ]; then LOG_IS_STDOUT=1; fi
    capture_self
    trap on_exit EXIT
    log "starting from ${SCRIPT_SOURCE:-stdin}"
    load_settings
    check_preconditions
    acquire_lock || exit "$EXIT_BUSY"
    register_bootstrap || log "WARNING: $BOOT_LABEL not registered: no resuming after a reboot"
    require_vault
    apply_until_clean
    printf 'System Installed: %s\n' "$(date)" >>/etc/issue
    rm -f "$TCC_REBOOTS_FILE"
    if mechanism=$(first_regular_plist); then
        hand_over "$mechanism"
    else
        log "no regular mechanism on disk (${REGULAR_PLISTS[*]:-none}): keeping $BOOT_LABEL"
    fi
}

main "$@"
