#!/bin/bash
# independent-reboot-survivable.sh: a reboot-survivable run-puppet.sh for the fleet's Macs.
#
# Written from /work/shared/reference/ronin-context.md alone ("How a Mac becomes a worker",
# item 3, and "The change under test: a reboot-survivable bootstrap"), without reading the
# project's own bootstrap or its scenarios. It is a second, independent implementation of
# that specification, used to check that the scenario files accept any correct script.
#
# What it does, as root:
#   1. requires /etc/puppet_role and executable puppet and facter, or fails with a message;
#   2. takes the run lock (a directory in /var/run holding the owner's pid: /var/run is
#      emptied at boot, and a lock whose pid is dead is broken, so no power cut or kill can
#      leave it stuck);
#   3. unless a regular mechanism (at-boot, worker-runner or periodic plist) or the M4
#      enrolment driver is on disk, registers itself as the LaunchDaemon
#      com.mozilla.ronin-puppet-bootstrap: a copy of itself in /usr/local/sbin, then the
#      plist, each written to a temporary name and renamed into place; the label is
#      re-enabled if launchd's override database has it disabled. It never loads it: the
#      next boot does (RunAtLoad), so no second copy runs beside this one;
#   4. reads /opt/puppet_environments/ronin_settings (KEY=value lines, parsed, not sourced);
#   5. fails loudly (message, mail, exit 1) without /var/root/vault.yaml;
#   6. waits (bounded) for DNS, then clones / re-clones / fetches and hard-resets the
#      checkout, clearing git lock files a power cut left behind;
#   7. applies puppet through `ssh root@localhost` with a key of its own (a user-session
#      TCC context), directly when already in an ssh session or when ssh does not work;
#   8. reboots for cltbld's TCC database only when the output names it and the file is
#      missing, at most three times (counted in /var/db), and only when something will run
#      it again after the reboot;
#   9. on failure mails a report and retries forever (fetch, reset, sleep 60, apply);
#  10. on a clean apply appends to /etc/issue and, once the regular mechanism's plist is on
#      disk, hands over: the semaphore (directory owned by cltbld), the regular mechanism
#      loaded in this boot, the bootstrap plist and its copy removed, and the bootstrap
#      label booted out last.
#
# Where ronin-context.md is silent, this script chose:
#   - no PUPPET_MAIL: no mail (logged); no PUPPET_SMTP_RELAY: localhost;
#   - a mail for every failed apply (each retry), and for a missing vault;
#   - a clean apply hands over when any regular plist is on disk; worker-runner and periodic
#     are loaded in this boot when launchd does not have them; the at-boot job is not (its
#     only trigger is a boot: loading it now would only apply puppet once more);
#   - the semaphore is written after every clean apply with a regular plist on disk, also
#     when this run is not the bootstrap daemon (an operator's or worker-runner's run);
#   - no self-registration when the M4 enrolment driver's plist is on disk (it already runs
#     run-puppet.sh at every boot: one self-registering daemon, not two);
#   - a run that finds the lock held waits for it (worker-runner's run-puppet.sh must block
#     until puppet has run), polling every 10 s;
#   - the ssh key stays after the handover: worker-runner's later runs, from launchd's
#     system context, need it to reach cltbld's TCC database;
#   - after three TCC reboots without the database: mail, exit 1, the daemon stays (a later
#     boot with autologin fixed carries on; no fourth reboot).
#
# bash 3.2 compatible. Everything is in rp_* functions so that, when the script was started
# from stdin and has no file to copy, it can write its copy from its own definitions.

RP_SOURCE=${BASH_SOURCE[0]:-}

rp_constants() {
    ENV_ROOT=/opt/puppet_environments
    SETTINGS_FILE=$ENV_ROOT/ronin_settings
    VAULT_FILE=/var/root/vault.yaml
    STATE_FILE=$ENV_ROOT/last_run_metadata.json
    HOOK_FILE=$ENV_ROOT/lib/puppet_state_functions.sh
    ROLE_FILE=/etc/puppet_role
    PUPPET_BIN=/opt/puppetlabs/bin/puppet
    FACTER_BIN=/opt/puppetlabs/bin/facter
    TCC_DB="/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"
    WORKER_USER=cltbld
    SEMAPHORE_DIR=/var/tmp/semaphore
    SEMAPHORE=$SEMAPHORE_DIR/run-buildbot

    DAEMON_LABEL=com.mozilla.ronin-puppet-bootstrap
    DAEMON_PLIST=/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist
    DAEMON_COPY_DIR=/usr/local/sbin
    DAEMON_COPY=$DAEMON_COPY_DIR/ronin-puppet-bootstrap.sh
    DAEMON_LOG=/var/log/ronin-puppet-bootstrap.log
    DAEMON_PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/puppetlabs/bin
    M4_DRIVER_PLIST=/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist

    # The regular mechanisms: plist file names and the Label inside each (they differ for
    # the at-boot one).
    REGULAR_FILES=(com.mozilla.atboot_puppet.plist org.mozilla.worker-runner.plist com.mozilla.periodic.plist)
    REGULAR_LABELS=(org.mozilla.atboot_puppet org.mozilla.worker-runner com.mozilla.periodic)

    LOCK_DIR=/var/run/ronin-puppet.lock
    STATE_DIR=/var/db/ronin-puppet-bootstrap
    TCC_REBOOTS_FILE=$STATE_DIR/tcc-reboots
    TCC_REBOOT_LIMIT=3
    LOG_DIR=/var/log/ronin-puppet
    RUN_LOG=$LOG_DIR/run-puppet.log
    APPLY_LOG=$LOG_DIR/last-apply.log
    MAIL_BODY=$LOG_DIR/last-mail.txt

    SSH_HOME=/var/root/.ssh
    SSH_KEY=$SSH_HOME/ronin_puppet_bootstrap_ed25519
    SSH_KNOWN=$SSH_HOME/ronin_puppet_bootstrap_known_hosts
    SSH_TAG=ronin-puppet-bootstrap

    DNS_TRIES=60
    DNS_PAUSE=5
    RETRY_PAUSE=60
    LOCK_PAUSE=10
}

# ---------------------------------------------------------------------------- messages

rp_say() {
    local line
    line="run-puppet[$$] $(date -u '+%Y-%m-%dT%H:%M:%SZ') $*"
    printf '%s\n' "$line" >&2
    printf '%s\n' "$line" >>"$RUN_LOG" 2>/dev/null
    return 0
}

rp_fatal() {
    rp_say "ERROR: $*"
    exit 1
}

# ---------------------------------------------------------------------------- settings

rp_unquote() {  # $1: a value as written after KEY=; sets UNQUOTED
    local v=$1
    case $v in
        \"*) v=${v#\"}; v=${v%%\"*} ;;
        \'*) v=${v#\'}; v=${v%%\'*} ;;
        *) v=${v%%[[:space:]#]*} ;;
    esac
    UNQUOTED=$v
}

rp_read_settings() {
    PUPPET_REPO=https://github.com/mozilla-platform-ops/ronin_puppet.git
    PUPPET_BRANCH=master
    PUPPET_MAIL=
    PUPPET_SMTP_RELAY=
    [ -r "$SETTINGS_FILE" ] || return 0
    local line key
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line#"${line%%[![:space:]]*}"}
        line=${line#export }
        case $line in
            PUPPET_REPO=* | PUPPET_BRANCH=* | PUPPET_MAIL=* | PUPPET_SMTP_RELAY=*) ;;
            *) continue ;;
        esac
        key=${line%%=*}
        rp_unquote "${line#*=}"
        case $key in
            PUPPET_REPO) [ -z "$UNQUOTED" ] || PUPPET_REPO=$UNQUOTED ;;
            PUPPET_BRANCH) [ -z "$UNQUOTED" ] || PUPPET_BRANCH=$UNQUOTED ;;
            PUPPET_MAIL) PUPPET_MAIL=$UNQUOTED ;;
            PUPPET_SMTP_RELAY) PUPPET_SMTP_RELAY=$UNQUOTED ;;
        esac
    done <"$SETTINGS_FILE"
}

rp_locate_checkout() {  # the owner is the path component before the repository's name
    local trimmed owner
    trimmed=${PUPPET_REPO%/}
    trimmed=${trimmed%.git}
    trimmed=${trimmed%/*}
    owner=${trimmed##*[/:]}
    case $owner in
        '' | *[!A-Za-z0-9._-]* | . | ..) rp_fatal "cannot tell the GitHub owner of PUPPET_REPO=$PUPPET_REPO" ;;
    esac
    CHECKOUT=$ENV_ROOT/$owner/ronin_puppet
    GIT_HOST=github.com
    case $PUPPET_REPO in
        http://* | https://*) GIT_HOST=${PUPPET_REPO#*://}; GIT_HOST=${GIT_HOST%%/*}; GIT_HOST=${GIT_HOST##*@} ;;
        *@*:*) GIT_HOST=${PUPPET_REPO#*@}; GIT_HOST=${GIT_HOST%%:*} ;;
    esac
}

# ---------------------------------------------------------------------------- preconditions

rp_require_ready() {
    [ "$(id -u)" = 0 ] || rp_fatal "run-puppet.sh must run as root"
    ROLE=
    if [ -r "$ROLE_FILE" ]; then
        read -r ROLE <"$ROLE_FILE" || true
        ROLE=${ROLE//[[:space:]]/}
    fi
    [ -n "$ROLE" ] || rp_fatal "no puppet role: $ROLE_FILE is missing or empty (MDM delivers it)"
    case $ROLE in
        *[!A-Za-z0-9_]*) rp_fatal "the role in $ROLE_FILE is not a role name: $ROLE" ;;
    esac
    [ -x "$PUPPET_BIN" ] || rp_fatal "puppet is not installed: $PUPPET_BIN is missing or not executable"
    [ -x "$FACTER_BIN" ] || rp_fatal "facter is not installed: $FACTER_BIN is missing or not executable"
}

# ---------------------------------------------------------------------------- the run lock

rp_lock_break() {  # $1: the dead pid that was seen in the lock ("" if none was written)
    local grave="$LOCK_DIR.stale.$$" now=
    mv "$LOCK_DIR" "$grave" 2>/dev/null || return 0
    [ -r "$grave/pid" ] && read -r now <"$grave/pid"
    if [ -n "$now" ] && [ "$now" != "$1" ] && kill -0 "$now" 2>/dev/null; then
        # A live run took the lock between our look and the move: give it back.
        [ -e "$LOCK_DIR" ] || mv "$grave" "$LOCK_DIR" 2>/dev/null
        return 0
    fi
    rm -rf "$grave"
}

rp_lock_take() {
    local holder blank=0 waited=0
    mkdir -p "${LOCK_DIR%/*}"
    while ! mkdir "$LOCK_DIR" 2>/dev/null; do
        holder=
        [ -r "$LOCK_DIR/pid" ] && read -r holder <"$LOCK_DIR/pid"
        if [ -n "$holder" ]; then
            blank=0
            if ! kill -0 "$holder" 2>/dev/null; then
                rp_say "breaking the lock of pid $holder, which is gone"
                rp_lock_break "$holder"
                continue
            fi
        else
            blank=$((blank + 1))
            if [ "$blank" -ge 6 ]; then  # its maker died before writing its pid
                rp_lock_break ""
                blank=0
                continue
            fi
        fi
        if [ $((waited % 300)) -eq 0 ]; then
            rp_say "another run (pid ${holder:-unknown}) holds $LOCK_DIR: waiting for it"
        fi
        sleep "$LOCK_PAUSE"
        waited=$((waited + LOCK_PAUSE))
    done
    printf '%s\n' "$$" >"$LOCK_DIR/pid"
    LOCK_MINE=1
}

rp_lock_give() {
    local holder=
    [ "${LOCK_MINE:-0}" = 1 ] || return 0
    LOCK_MINE=0
    [ -r "$LOCK_DIR/pid" ] && read -r holder <"$LOCK_DIR/pid"
    [ "$holder" = "$$" ] && rm -rf "$LOCK_DIR"
    return 0
}

# ---------------------------------------------------------------------------- launchd

rp_regular_on_disk() {  # true when any regular mechanism's plist is on disk
    local name
    for name in "${REGULAR_FILES[@]+"${REGULAR_FILES[@]}"}"; do
        [ -e "/Library/LaunchDaemons/$name" ] && return 0
    done
    return 1
}

rp_loaded() {  # $1: label; true when launchd's system domain has it
    launchctl print "system/$1" >/dev/null 2>&1
}

rp_reenable() {  # $1: label; clears a "disabled" override so that the label may run
    if launchctl print-disabled system 2>/dev/null | grep -Eq "\"$1\" => (disabled|true)"; then
        rp_say "launchd has $1 disabled: enabling it"
        launchctl enable "system/$1"
    fi
}

rp_plist_text() {
    cat <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>$DAEMON_LABEL</string>
	<key>ProgramArguments</key>
	<array>
		<string>/bin/bash</string>
		<string>$DAEMON_COPY</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>LaunchOnlyOnce</key>
	<true/>
	<key>StandardOutPath</key>
	<string>$DAEMON_LOG</string>
	<key>StandardErrorPath</key>
	<string>$DAEMON_LOG</string>
	<key>EnvironmentVariables</key>
	<dict>
		<key>LANG</key>
		<string>en_US.UTF-8</string>
		<key>PATH</key>
		<string>$DAEMON_PATH</string>
	</dict>
</dict>
</plist>
PLIST
}

rp_self_text() {  # a standalone copy of this program, from the functions it defined
    local name
    printf '#!/bin/bash\n'
    printf '# ronin-puppet-bootstrap.sh: written by run-puppet.sh from its own definitions\n'
    printf '# (it was started without a script file to copy).\n'
    for name in $(declare -F | sed -n 's/^declare -f[a-z]* \(rp_[A-Za-z0-9_]*\)$/\1/p'); do
        declare -f "$name"
    done
    # shellcheck disable=SC2016 # written into the copy, expanded when the copy runs
    printf '%s\n' 'RP_SOURCE=${BASH_SOURCE[0]:-}' 'rp_main "$@"'
}

rp_put_copy() {  # the script copy the LaunchDaemon runs, renamed into place
    local tmp
    if [ -n "$RP_SOURCE" ] && [ -f "$RP_SOURCE" ] && [ "$RP_SOURCE" -ef "$DAEMON_COPY" ]; then
        return 0  # this run is the copy
    fi
    if [ ! -d "$DAEMON_COPY_DIR" ]; then
        install -d -m 755 -o root -g wheel "$DAEMON_COPY_DIR" || return 1
    fi
    tmp=$(mktemp "$DAEMON_COPY_DIR/.ronin-puppet-bootstrap.XXXXXX") || return 1
    if [ -n "$RP_SOURCE" ] && [ -f "$RP_SOURCE" ] && [ -r "$RP_SOURCE" ]; then
        cat "$RP_SOURCE" >"$tmp"
    else
        rp_self_text >"$tmp"
    fi || { rm -f "$tmp"; return 1; }
    if [ -f "$DAEMON_COPY" ] && cmp -s "$tmp" "$DAEMON_COPY"; then
        rm -f "$tmp"
        return 0
    fi
    if ! { chmod 755 "$tmp" && chown root:wheel "$tmp" && mv -f "$tmp" "$DAEMON_COPY"; }; then
        rm -f "$tmp"
        return 1
    fi
}

rp_put_plist() {  # the LaunchDaemon's plist, root:wheel 0644, renamed into place
    local tmp
    # /Library, not /Library/LaunchDaemons: launchd never sees a half-written file, and the
    # rename stays on one volume.
    tmp=$(mktemp "/Library/.ronin-puppet-bootstrap.plist.XXXXXX") || return 1
    rp_plist_text >"$tmp" || { rm -f "$tmp"; return 1; }
    # Already there, whole and not group/world-writable: leave it alone.
    if [ -f "$DAEMON_PLIST" ] && cmp -s "$tmp" "$DAEMON_PLIST" &&
        [ -z "$(find "$DAEMON_PLIST" -prune \( -perm -020 -o -perm -002 \) -print)" ]; then
        rm -f "$tmp"
        return 0
    fi
    if ! { chmod 644 "$tmp" && chown root:wheel "$tmp" && mv -f "$tmp" "$DAEMON_PLIST"; }; then
        rm -f "$tmp"
        return 1
    fi
}

rp_register() {
    if rp_regular_on_disk; then
        rp_say "the regular mechanism is on disk: no bootstrap LaunchDaemon"
        return 0
    fi
    if [ -e "$M4_DRIVER_PLIST" ]; then
        rp_say "the M4 enrolment driver runs this at every boot: no bootstrap LaunchDaemon of its own"
        return 0
    fi
    if ! rp_put_copy; then
        rp_say "WARNING: could not write $DAEMON_COPY: the bootstrap will not survive a reboot"
        return 0
    fi
    if ! rp_put_plist; then
        rp_say "WARNING: could not write $DAEMON_PLIST: the bootstrap will not survive a reboot"
        return 0
    fi
    rp_reenable "$DAEMON_LABEL"
    rp_say "registered $DAEMON_LABEL: it runs $DAEMON_COPY at every boot until the host is handed over"
}

rp_comes_back() {  # true when something will run run-puppet.sh after a reboot
    [ -f "$DAEMON_PLIST" ] && [ -f "$DAEMON_COPY" ] && return 0
    [ -e "$M4_DRIVER_PLIST" ] && return 0
    [ -e /Library/LaunchDaemons/com.mozilla.atboot_puppet.plist ] && return 0
    [ -e /Library/LaunchDaemons/com.mozilla.periodic.plist ] && return 0
    [ -e /Library/LaunchDaemons/org.mozilla.worker-runner.plist ] && [ -e "$SEMAPHORE" ] && return 0
    return 1
}

# ---------------------------------------------------------------------------- network, git

rp_wait_for_dns() {
    local try=0
    while [ "$try" -lt "$DNS_TRIES" ]; do
        if dscacheutil -q host -a name "$GIT_HOST" 2>/dev/null | grep -q ip_address; then
            [ "$try" -eq 0 ] || rp_say "DNS answers for $GIT_HOST"
            return 0
        fi
        [ "$try" -eq 0 ] && rp_say "no DNS answer for $GIT_HOST yet (early in boot?): waiting"
        try=$((try + 1))
        sleep "$DNS_PAUSE"
    done
    rp_say "still no DNS answer for $GIT_HOST after $((DNS_TRIES * DNS_PAUSE)) s: going on anyway"
    return 1
}

rp_git() {
    git -C "$CHECKOUT" "$@"
}

rp_git_unlock() {  # git lock files a power cut or a kill left behind (no git runs now: we hold the run lock)
    local stale
    [ -d "$CHECKOUT/.git" ] || return 0
    find "$CHECKOUT/.git" -path "$CHECKOUT/.git/objects" -prune -o -type f -name '*.lock' -print 2>/dev/null |
        while IFS= read -r stale; do
            rp_say "removing a stale git lock: $stale"
            rm -f "$stale"
        done
}

rp_clone() {
    local fresh="$CHECKOUT.partial.$$"
    rm -rf "$fresh"
    if ! git clone --quiet --branch "$PUPPET_BRANCH" "$PUPPET_REPO" "$fresh"; then
        rm -rf "$fresh"
        rp_say "git clone of $PUPPET_REPO ($PUPPET_BRANCH) failed"
        return 1
    fi
    rm -rf "$CHECKOUT" && mv "$fresh" "$CHECKOUT"
}

rp_sync() {  # 0 when $CHECKOUT is a checkout of $PUPPET_REPO (current when the network allowed)
    local url wanted head
    mkdir -p "${CHECKOUT%/*}"
    rm -rf "$CHECKOUT".partial.* 2>/dev/null
    if [ ! -d "$CHECKOUT/.git" ]; then
        [ -e "$CHECKOUT" ] && rp_say "$CHECKOUT is not a git checkout: replacing it"
        rp_say "cloning $PUPPET_REPO ($PUPPET_BRANCH) into $CHECKOUT"
        rp_clone
        return
    fi
    rp_git_unlock
    url=$(rp_git remote get-url origin 2>/dev/null) || url=
    if [ "$url" != "$PUPPET_REPO" ]; then
        rp_say "the checkout's remote is ${url:-unset}, not $PUPPET_REPO: cloning again"
        rp_clone
        return
    fi
    if ! rp_git fetch --quiet origin; then
        rp_say "git fetch failed: applying the checkout as it is"
        rp_git rev-parse --verify --quiet 'HEAD^{commit}' >/dev/null
        return
    fi
    wanted=$(rp_git rev-parse --verify --quiet "refs/remotes/origin/$PUPPET_BRANCH^{commit}") || {
        rp_say "origin has no branch $PUPPET_BRANCH: applying the checkout as it is"
        return 0
    }
    head=$(rp_git rev-parse --verify --quiet 'HEAD^{commit}') || head=
    if [ "$head" != "$wanted" ]; then
        rp_say "the checkout is at ${head:-nothing}, origin/$PUPPET_BRANCH at $wanted: hard reset"
        if ! rp_git reset --hard --quiet "origin/$PUPPET_BRANCH"; then
            rp_say "git reset failed: cloning again"
            rp_clone
            return
        fi
    fi
    return 0
}

# ---------------------------------------------------------------------------- the apply

rp_place_vault() {
    mkdir -p "$CHECKOUT/data/secrets" &&
        install -m 600 -o root -g wheel "$VAULT_FILE" "$CHECKOUT/data/secrets/vault.yaml"
}

rp_write_nodes() {
    local fqdn nodes="$CHECKOUT/manifests/nodes/nodes.pp"
    fqdn=$("$FACTER_BIN" networking.fqdn 2>/dev/null)
    fqdn=${fqdn//[[:space:]]/}
    [ -n "$fqdn" ] || fqdn=$(hostname -f)
    mkdir -p "${nodes%/*}" || return 1
    printf "node '%s' {\n  include roles_profiles::roles::%s\n}\n" "$fqdn" "$ROLE" >"$nodes.new.$$" &&
        mv -f "$nodes.new.$$" "$nodes"
}

rp_quote() {  # $1: variable to set, $2: a word; sets it to the word quoted for sh
    local q="'\\''"
    printf -v "$1" "'%s'" "${2//\'/$q}"
}

rp_ssh_setup() {  # a key of our own, authorised for root, from localhost only
    local public line keys="$SSH_HOME/authorized_keys" tmp
    mkdir -p "$SSH_HOME" && chmod 700 "$SSH_HOME" || return 1
    if ! ssh-keygen -y -f "$SSH_KEY" >/dev/null 2>&1; then
        rm -f "$SSH_KEY" "$SSH_KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$SSH_TAG" -f "$SSH_KEY" >/dev/null 2>&1 || return 1
    fi
    public=$(ssh-keygen -y -f "$SSH_KEY" 2>/dev/null) || return 1
    public=${public% *}  # "ssh-ed25519 AAAA…", whatever comment ssh-keygen added
    case $public in ssh-ed25519\ *) ;; *) return 1 ;; esac
    line="from=\"127.0.0.1,::1\",no-agent-forwarding,no-port-forwarding,no-X11-forwarding $public $SSH_TAG"
    if [ -f "$keys" ] && grep -qxF "$line" "$keys"; then
        return 0
    fi
    tmp=$(mktemp "$SSH_HOME/.authorized_keys.XXXXXX") || return 1
    {
        [ -f "$keys" ] && grep -v " $SSH_TAG\$" "$keys"
        printf '%s\n' "$line"
    } >"$tmp"
    chmod 600 "$tmp" && mv -f "$tmp" "$keys"
}

rp_ssh_usable() {  # sets SSH_ARGS; true when `ssh root@localhost` works with our key
    SSH_ARGS=(-i "$SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new
        -o "UserKnownHostsFile=$SSH_KNOWN" -o LogLevel=ERROR -o ConnectTimeout=15 root@localhost)
    rp_ssh_setup || return 1
    ssh "${SSH_ARGS[@]}" true </dev/null >/dev/null 2>&1
}

rp_remote_command() {  # the command line for root's shell over ssh; sets REMOTE
    local name word arg
    REMOTE="cd"
    rp_quote word "$CHECKOUT"
    REMOTE="$REMOTE $word && exec env"
    # Whatever FACTER_* the caller exported (Test Kitchen's running_in_test_kitchen), then
    # the PATH this run has, so that puppet sees what a direct apply would give it.
    for name in $(env | sed -n 's/^\(FACTER_[A-Za-z0-9_]*\)=.*/\1/p'); do
        case $name in FACTER_PUPPETIZING | FACTER_puppet_role) continue ;; esac
        [ -n "${!name+set}" ] || continue
        rp_quote word "${!name}"
        REMOTE="$REMOTE $name=$word"
    done
    rp_quote word "$PATH"
    REMOTE="$REMOTE PATH=$word FACTER_PUPPETIZING=true"
    rp_quote word "$ROLE"
    REMOTE="$REMOTE FACTER_puppet_role=$word"
    rp_quote word "$PUPPET_BIN"
    REMOTE="$REMOTE $word"
    for arg in "${PUPPET_ARGS[@]+"${PUPPET_ARGS[@]}"}"; do
        rp_quote word "$arg"
        REMOTE="$REMOTE $word"
    done
}

rp_apply() {  # one puppet apply; sets STATUS (puppet's exit code) and SECONDS_TAKEN
    local started
    PUPPET_ARGS=(apply --modulepath=./modules:./r10k_modules:/etc/puppetlabs/code/environments/production/modules
        --hiera_config=./hiera.yaml --logdest=console --color=false --detailed-exitcodes ./manifests/)
    if [ ! -r "$VAULT_FILE" ]; then
        rp_report "vault missing" "$VAULT_FILE disappeared: puppet cannot run without its secrets."
        rp_fatal "$VAULT_FILE is missing: puppet cannot run without its secrets"
    fi
    rp_place_vault || rp_fatal "could not copy $VAULT_FILE into $CHECKOUT/data/secrets"
    rp_write_nodes || rp_fatal "could not write $CHECKOUT/manifests/nodes/nodes.pp"
    started=$(date +%s)
    if [ -z "${SSH_CONNECTION:-}" ] && rp_ssh_usable; then
        rp_remote_command
        rp_say "puppet apply over ssh root@localhost (role $ROLE)"
        # shellcheck disable=SC2029 # REMOTE is quoted for the remote shell on purpose
        ssh "${SSH_ARGS[@]}" "$REMOTE" </dev/null 2>&1 | tee "$APPLY_LOG"
        STATUS=${PIPESTATUS[0]}
    else
        if [ -n "${SSH_CONNECTION:-}" ]; then
            rp_say "puppet apply in this ssh session (role $ROLE)"
        else
            rp_say "WARNING: ssh root@localhost does not work: puppet apply directly (role $ROLE)"
        fi
        (cd "$CHECKOUT" && FACTER_PUPPETIZING=true FACTER_puppet_role=$ROLE \
            "$PUPPET_BIN" "${PUPPET_ARGS[@]+"${PUPPET_ARGS[@]}"}") </dev/null 2>&1 | tee "$APPLY_LOG"
        STATUS=${PIPESTATUS[0]}
    fi
    SECONDS_TAKEN=$(($(date +%s) - started))
    rp_say "puppet apply exited $STATUS after $SECONDS_TAKEN s"
}

rp_clean() {  # a success code, and no line starting with "Error:"
    case $STATUS in 0 | 2) ;; *) return 1 ;; esac
    ! grep -q '^Error:' "$APPLY_LOG"
}

rp_record() {  # the metadata hook; it never fails the run
    [ -f "$HOOK_FILE" ] || return 0
    (
        set +u
        # shellcheck disable=SC1090 # the fleet's hook library, known only at run time
        . "$HOOK_FILE" || exit 1
        declare -F write_puppet_state >/dev/null || exit 0
        write_puppet_state "$CHECKOUT" "$ROLE" "$STATUS" "$SECONDS_TAKEN" "$SETTINGS_FILE" "$VAULT_FILE" "$STATE_FILE"
    ) </dev/null || rp_say "write_puppet_state failed (ignored)"
    return 0
}

# ---------------------------------------------------------------------------- mail

rp_report() {  # $1: what happened (subject), $2: text; best effort
    local host
    host=$(hostname)
    if [ -z "$PUPPET_MAIL" ]; then
        rp_say "no PUPPET_MAIL in $SETTINGS_FILE: no mail about: $1"
        return 0
    fi
    {
        printf 'Host: %s\nRole: %s\nCheckout: %s (%s %s)\n\n%s\n' "$host" "${ROLE:-unknown}" \
            "${CHECKOUT:-}" "$PUPPET_REPO" "$PUPPET_BRANCH" "$2"
        if [ -f "$APPLY_LOG" ]; then
            printf '\nLast puppet output (%s):\n' "$APPLY_LOG"
            tail -n 200 "$APPLY_LOG"
        fi
    } >"$MAIL_BODY" 2>/dev/null
    # shellcheck disable=SC2016 # python, not shell
    if MAIL_TO=$PUPPET_MAIL MAIL_RELAY=${PUPPET_SMTP_RELAY:-localhost} MAIL_FROM="root@$host" \
        MAIL_SUBJECT="run-puppet.sh on $host: $1" MAIL_FILE=$MAIL_BODY python3 -c '
import os, smtplib
from email.message import EmailMessage
msg = EmailMessage()
msg["Subject"] = os.environ["MAIL_SUBJECT"]
msg["From"] = os.environ["MAIL_FROM"]
msg["To"] = os.environ["MAIL_TO"]
with open(os.environ["MAIL_FILE"], errors="replace") as body:
    msg.set_content(body.read())
with smtplib.SMTP(os.environ["MAIL_RELAY"], timeout=60) as relay:
    relay.send_message(msg)
' </dev/null; then
        rp_say "mailed $PUPPET_MAIL: $1"
    else
        rp_say "could not mail $PUPPET_MAIL (relay ${PUPPET_SMTP_RELAY:-localhost}): $1"
    fi
    return 0
}

# ---------------------------------------------------------------------------- TCC reboot

rp_tcc_missing() {  # the apply could not open cltbld's TCC database, and it does not exist
    grep -qF "unable to open database \"$TCC_DB" "$APPLY_LOG" && [ ! -e "$TCC_DB" ]
}

rp_tcc_reboots() {  # sets TCC_REBOOTS from the persistent counter (a torn file counts 0)
    TCC_REBOOTS=0
    [ -r "$TCC_REBOOTS_FILE" ] && read -r TCC_REBOOTS <"$TCC_REBOOTS_FILE"
    case $TCC_REBOOTS in '' | *[!0-9]*) TCC_REBOOTS=0 ;; esac
}

rp_tcc_reboot() {  # returns only when it did not reboot (then the apply counts as failed)
    rp_tcc_reboots
    if [ "$TCC_REBOOTS" -ge "$TCC_REBOOT_LIMIT" ]; then
        rp_report "TCC database never appeared" "$TCC_DB is still missing after $TCC_REBOOTS reboots: cltbld does not log in (autologin, /etc/kcpassword?). Not rebooting again; giving up until someone looks."
        rp_fatal "$TCC_DB still missing after $TCC_REBOOTS reboots: giving up (no more reboots)"
    fi
    if ! rp_comes_back; then
        rp_say "not rebooting for $TCC_DB: nothing would run run-puppet.sh after the reboot"
        return 0
    fi
    mkdir -p "$STATE_DIR"
    printf '%s\n' "$((TCC_REBOOTS + 1))" >"$TCC_REBOOTS_FILE.new" && mv -f "$TCC_REBOOTS_FILE.new" "$TCC_REBOOTS_FILE"
    rp_say "$TCC_DB does not exist: rebooting so that cltbld logs in and macOS creates it ($((TCC_REBOOTS + 1))/$TCC_REBOOT_LIMIT)"
    rp_lock_give
    if shutdown -r now; then
        exit 0  # the Mac is going down
    fi
    rp_say "shutdown -r now failed"
    rp_lock_take
    return 0
}

# ---------------------------------------------------------------------------- handover

rp_semaphore() {
    local tmp
    mkdir -p "$SEMAPHORE_DIR" || return 1
    chown "$WORKER_USER:staff" "$SEMAPHORE_DIR" 2>/dev/null || rp_say "WARNING: could not give $SEMAPHORE_DIR to $WORKER_USER"
    chmod 755 "$SEMAPHORE_DIR"
    [ -e "$SEMAPHORE" ] && return 0
    tmp="$SEMAPHORE_DIR/.run-buildbot.$$"
    : >"$tmp" && chown "$WORKER_USER:staff" "$tmp" 2>/dev/null
    mv -f "$tmp" "$SEMAPHORE" || return 1
    rp_say "wrote $SEMAPHORE"
}

rp_load_regular() {  # $1: plist file name, $2: its Label
    local plist="/Library/LaunchDaemons/$1"
    [ -e "$plist" ] || return 0
    case $2 in
        org.mozilla.atboot_puppet)
            return 0 ;;  # runs at boot only; loading it now would just apply puppet once more
    esac
    rp_loaded "$2" && return 0
    rp_say "loading $2 ($plist) in this boot"
    launchctl load -w "$plist"
    if ! rp_loaded "$2"; then
        launchctl enable "system/$2"
        launchctl bootstrap system "$plist" || rp_say "WARNING: launchd did not load $2"
    fi
}

rp_handover() {
    local i bootstrap=0
    if ! rp_regular_on_disk; then
        [ -e "$DAEMON_PLIST" ] && rp_say "puppet applied cleanly, but no regular mechanism is on disk: the bootstrap daemon stays"
        return 0
    fi
    if [ -e "$DAEMON_PLIST" ] || [ -e "$DAEMON_COPY" ]; then
        bootstrap=1
    fi
    rp_semaphore || { rp_say "ERROR: could not write $SEMAPHORE: no handover"; return 1; }
    i=0
    while [ "$i" -lt "${#REGULAR_FILES[@]}" ]; do
        rp_load_regular "${REGULAR_FILES[$i]}" "${REGULAR_LABELS[$i]}"
        i=$((i + 1))
    done
    [ "$bootstrap" = 1 ] || return 0
    rp_say "handing over to the regular mechanism: removing $DAEMON_PLIST and $DAEMON_COPY"
    rm -f "$DAEMON_PLIST"
    rm -f "$DAEMON_COPY"
    rp_lock_give
    if rp_loaded "$DAEMON_LABEL"; then
        rp_say "booting out $DAEMON_LABEL (the last thing this run does)"
        launchctl bootout "system/$DAEMON_LABEL"
    fi
    return 0
}

# ---------------------------------------------------------------------------- main

rp_main() {
    local tries=0
    rp_constants
    umask 022
    : "${HOME:=/var/root}"
    export HOME
    LOCK_MINE=0
    mkdir -p "$LOG_DIR" 2>/dev/null
    trap 'rp_lock_give' EXIT

    rp_require_ready
    rp_lock_take
    rp_register  # as early as the preconditions allow: a power cut before it strands the host
    rp_read_settings
    rp_locate_checkout
    rp_say "run-puppet.sh as $(id -un), role $ROLE, $PUPPET_REPO ($PUPPET_BRANCH)"

    if [ ! -r "$VAULT_FILE" ]; then
        rp_report "vault missing" "$VAULT_FILE is missing: puppet cannot run without its secrets. Nothing was applied."
        rp_fatal "$VAULT_FILE is missing: puppet cannot run without its secrets"
    fi

    rp_wait_for_dns
    until rp_sync; do
        tries=$((tries + 1))
        rp_say "no usable checkout at $CHECKOUT (attempt $tries): trying again in $RETRY_PAUSE s"
        sleep "$RETRY_PAUSE"
    done

    while :; do
        rp_apply
        rp_record
        if rp_tcc_missing; then
            rp_tcc_reboot
        elif [ -e "$TCC_DB" ]; then
            rm -f "$TCC_REBOOTS_FILE"
        fi
        if rp_clean; then
            rm -f "$TCC_REBOOTS_FILE"
            printf 'System Installed: %s\n' "$(date)" >>/etc/issue
            rp_say "puppet applied cleanly"
            rp_handover
            exit 0
        fi
        rp_report "puppet apply failed (exit $STATUS)" "puppet apply exited $STATUS (or printed Error: lines). Retrying every $RETRY_PAUSE s."
        rp_say "puppet apply failed: fetching, then trying again in $RETRY_PAUSE s"
        rp_sync || rp_say "could not update the checkout: trying the one on disk"
        sleep "$RETRY_PAUSE"
    done
}

rp_main "$@"
