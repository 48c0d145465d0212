#!/bin/bash
#
# macsim's host collector: what a bootstrap failure on a fleet Mac depends on, gathered read-only
# into a gzipped tar on standard output, for `macsim scenario from-host` to turn into a scenario.
#
#   macsim collect > collect.sh      (on any machine with macsim)
#   sudo bash collect.sh > host.tgz  (on the Mac, as root)
#
# Read-only: it changes nothing on the host (it writes only in a temporary folder of its own,
# removed when it exits) and uses only bash 3.2 and the tools macOS ships. No secret leaves the
# host: /var/root/vault.yaml and the checkout's data/secrets/, TCC databases, ssh keys and
# /etc/kcpassword are recorded by presence, size, owner and mode only; credentials in a remote
# URL and the values of a plist's EnvironmentVariables are masked; the log tails it keeps have
# every value of vault.yaml replaced by ***.
#
# The archive: host/MANIFEST (one line per path: kind, mode, owner, group, size, what was kept,
# path; tab-separated), host/files/PATH (the files kept), host/cmd/*.txt (what commands printed:
# sw_vers, launchctl, defaults, systemsetup, df, sysctl, date, git).
set -u
umask 077
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
readonly COLLECTOR_VERSION=1
readonly LABELS="com.mozilla.ronin-puppet-bootstrap org.mozilla.worker-runner org.mozilla.atboot_puppet
com.mozilla.periodic com.mozilla.m4-bootstrap"
readonly CHECKOUT_PARENT=/opt/puppet_environments
readonly LOG_TAIL_LINES=200

if [ "$(id -u)" != 0 ]; then
    echo "collect.sh: run it as root (sudo bash collect.sh > host.tgz): launchd's system domain and root's files need it" >&2
    exit 1
fi
if [ -t 1 ]; then
    echo "collect.sh: standard output is a terminal; send it to a file: sudo bash collect.sh > host.tgz" >&2
    exit 1
fi

WORK=$(mktemp -d /tmp/macsim-collect.XXXXXX) || exit 1
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/host"
mkdir -p "$OUT/files" "$OUT/cmd" || exit 1
MANIFEST="$OUT/MANIFEST"
: >"$MANIFEST"
SECRETS="$WORK/secret-values"
: >"$SECRETS"

# One line of the manifest for PATH: kind, mode, owner, group, size, KEPT, path.
record() {
    local path=$1 kept=$2 meta
    meta=$(stat -f '%HT	%Lp	%Su	%Sg	%z' "$path" 2>/dev/null) || return 0
    printf '%s\t%s\t%s\n' "$meta" "$kept" "$path" >>"$MANIFEST"
}

# Records a file and keeps a copy of it.
keep() {
    local path=$1
    [ -f "$path" ] || return 0
    mkdir -p "$OUT/files$(dirname "$path")" && cat "$path" >"$OUT/files$path" && record "$path" copied
}

# Records a file or folder by presence only: its content never leaves the host.
withhold() {
    [ -e "$1" ] || [ -L "$1" ] || return 0
    record "$1" withheld
}

# Records a folder itself (not what is in it).
folder() {
    [ -d "$1" ] || return 0
    record "$1" folder
}

run() {
    local name=$1
    shift
    "$@" >"$OUT/cmd/$name.txt" 2>&1
    echo "exit $?" >>"$OUT/cmd/$name.exit"
}

# The values of vault.yaml (`key: value` lines), to mask wherever a log shows them.
secret_values() {
    local file
    for file in /var/root/vault.yaml "$@"; do
        [ -f "$file" ] || continue
        awk -F': *' 'NF >= 2 && length($2) >= 6 { v = $2; gsub(/^["'"'"']|["'"'"']$/, "", v); print v }' \
            "$file" >>"$SECRETS" 2>/dev/null
    done
}

# A file's last lines with every secret value replaced by ***.
masked_tail() {
    local path=$1
    [ -f "$path" ] || return 0
    mkdir -p "$OUT/files$(dirname "$path")" || return 0
    tail -n "$LOG_TAIL_LINES" "$path" | awk -v secrets="$SECRETS" '
        BEGIN { while ((getline s < secrets) > 0) if (s != "") values[++n] = s }
        { line = $0
          for (i = 1; i <= n; i++) {
              while ((at = index(line, values[i])) > 0)
                  line = substr(line, 1, at - 1) "***" substr(line, at + length(values[i]))
          }
          print line }' >"$OUT/files$path"
    record "$path" tail
}

# A LaunchDaemon plist with its EnvironmentVariables values masked (they can carry tokens).
keep_plist() {
    local path=$1 xml
    [ -f "$path" ] || return 0
    mkdir -p "$OUT/files$(dirname "$path")" || return 0
    if head -c 6 "$path" | grep -q '^bplist'; then
        xml=$(plutil -convert xml1 -o - "$path" 2>/dev/null) || { record "$path" withheld; return 0; }
    else
        xml=$(cat "$path")
    fi
    printf '%s\n' "$xml" | awk '
        { text = text $0 "\n" }
        END {
            at = index(text, "<key>EnvironmentVariables</key>")
            rest = substr(text, at)
            first = index(rest, "<dict>"); last = index(rest, "</dict>")
            if (at == 0 || first == 0 || last < first) { printf "%s", text; exit }
            body = substr(rest, first + 6, last - first - 6)
            gsub(/<string>[^<]*<\/string>/, "<string>***</string>", body)
            printf "%s%s%s", substr(text, 1, at + first + 4), body, substr(rest, last)
        }' >"$OUT/files$path"
    record "$path" copied
}

# A URL with any user:password@ part masked.
mask_url() {
    sed -E 's#://[^/@]+@#://***@#'
}

collect_launchd() {
    local plist label
    folder /Library/LaunchDaemons
    for plist in /Library/LaunchDaemons/*.plist; do
        [ -e "$plist" ] || [ -L "$plist" ] || continue
        if [ -L "$plist" ]; then record "$plist" "link $(readlink "$plist")"; else keep_plist "$plist"; fi
    done
    keep /private/var/db/com.apple.xpc.launchd/disabled.plist
    run launchctl-print-disabled launchctl print-disabled system
    for label in $LABELS; do
        run "launchctl-print-$label" launchctl print "system/$label"
    done
}

collect_fleet_files() {
    local path
    keep /private/etc/puppet_role
    keep "$CHECKOUT_PARENT/ronin_settings"
    for path in "$CHECKOUT_PARENT"/lib/*; do keep "$path"; done
    keep /usr/local/sbin/ronin-puppet-bootstrap.sh
    keep /usr/local/bin/run-puppet.sh
    keep /usr/local/sbin/m4-bootstrap-driver.sh
    folder /usr/local/sbin
    folder /usr/local/bin
    folder /private/var/tmp/semaphore
    for path in /private/var/tmp/semaphore/*; do
        if [ -d "$path" ]; then folder "$path"; elif [ -e "$path" ]; then keep "$path"; fi
    done
    folder /Users/cltbld/Library/Preferences/semaphore
    for path in /Users/cltbld/Library/Preferences/semaphore/*; do keep "$path"; done
    for path in /private/var/log/ronin-puppet-bootstrap.log /private/var/log/m4-bootstrap.log \
        /private/var/log/m4-bootstrap-driver.out /private/var/log/m4-bootstrap-driver.err; do
        masked_tail "$path"
    done
    keep /private/var/log/m4-bootstrap-complete
}

collect_secrets() {
    local path
    withhold /private/var/root/vault.yaml
    withhold /private/etc/kcpassword
    withhold "/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"
    withhold "/Library/Application Support/com.apple.TCC/TCC.db"
    folder /private/var/root/.ssh
    for path in /private/var/root/.ssh/*; do withhold "$path"; done
}

collect_checkout() {
    local checkout branch upstream lock
    for checkout in "$CHECKOUT_PARENT"/*/ronin_puppet; do
        [ -d "$checkout/.git" ] || continue
        folder "$checkout"
        withhold "$checkout/data/secrets/vault.yaml"
        {
            echo "path $checkout"
            echo "remote $(git -C "$checkout" config --get remote.origin.url 2>/dev/null | mask_url)"
            branch=$(git -C "$checkout" rev-parse --abbrev-ref HEAD 2>/dev/null)
            echo "branch $branch"
            echo "head $(git -C "$checkout" rev-parse HEAD 2>/dev/null)"
            upstream=$(git -C "$checkout" rev-parse "origin/$branch" 2>/dev/null)
            echo "fetched $upstream"
            echo "behind $(git -C "$checkout" rev-list --count "HEAD..origin/$branch" 2>/dev/null)"
            echo "changed $(git -C "$checkout" status --porcelain --untracked-files=no 2>/dev/null | grep -c .)"
            find "$checkout/.git" -name '*.lock' -type f 2>/dev/null | while IFS= read -r lock; do
                echo "lock ${lock#"$checkout"/}"
            done
        } >>"$OUT/cmd/checkout.txt"
    done
}

collect_system() {
    local tool
    for tool in /opt/puppetlabs/bin/puppet /opt/puppetlabs/bin/facter; do
        if [ -x "$tool" ]; then printf 'Program\t755\troot\twheel\t0\tpresent\t%s\n' "$tool" >>"$MANIFEST"; fi
    done
    run sw_vers sw_vers
    run hostname hostname
    run autologin defaults read /Library/Preferences/com.apple.loginwindow autoLoginUser
    keep /Library/Preferences/com.apple.loginwindow.plist
    run remote-login systemsetup -getremotelogin
    run df df -k /
    run boottime sysctl -n kern.boottime
    run now date -u +%s
    run uptime uptime
}

secret_values "$CHECKOUT_PARENT"/*/ronin_puppet/data/secrets/vault.yaml
collect_system
collect_launchd
collect_fleet_files
collect_secrets
collect_checkout
echo "$COLLECTOR_VERSION" >"$OUT/collector-version"
tar -czf - -C "$WORK" host
