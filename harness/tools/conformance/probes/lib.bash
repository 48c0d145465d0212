# shellcheck shell=bash
# What every probe shares: its names, the one JSON line it prints, and its clean-up.
#
# A probe is assembled as: a shebang, `PROBE_ID=<id>`, this file, then the probe's own file.
# It runs as root, on a real Mac (from the bundle) or on the simulated one (as an MDM
# script-job), with bash 3.2 and no jq. It records what it saw and judges nothing: the
# expectations live in the probe's header and are checked in Python.
#
# No `set -e`: a probe exists to watch commands fail, and a failure must not hide the rest.

# Messages must not depend on the caller's language.
export LC_ALL=C

PROBE_PREFIX=org.macsim.probe
PROBE_LABEL="$PROBE_PREFIX.$PROBE_ID"
# Everything a probe writes lives here (or in /Library/LaunchDaemons as $PROBE_LABEL*.plist).
PROBE_DIR="/private/var/tmp/$PROBE_LABEL"
# Where the second phase of a probe that reboots writes its line (launchd's StandardOutPath).
# shellcheck disable=SC2034  # only the probes that reboot use it
PROBE_RESULT="/private/var/tmp/$PROBE_LABEL.result"
PROBE_FIELDS=""
PROBE_LABELS_USED=""
PROBE_LABELS_DISABLED=""
# The label of the job this script runs as, when it is one: booted out last, since that kills it.
PROBE_SELF_LABEL=""
PROBE_NL='
'
PROBE_TAB='	'
PROBE_CR=$(printf '\r')

# The observation goes to the original stdout (fd 3); anything a command prints by accident
# is dropped, so the probe's output stays exactly one line.
exec 3>&1 1>/dev/null

json_string() {
    # Prints $1 as a JSON string. Scans for the next character that needs escaping with a
    # pattern (no replacement strings: their backslash rules changed between bash 3.2 and 5.2).
    local rest=$1 out='' head ch
    while :; do
        head=${rest%%[[:cntrl:]\"\\]*}
        out=$out$head
        rest=${rest#"$head"}
        [ -z "$rest" ] && break
        ch=${rest:0:1}
        rest=${rest:1}
        case $ch in
            '"') out=$out'\"' ;;
            \\) out="$out\\\\" ;;
            "$PROBE_NL") out=$out'\n' ;;
            "$PROBE_TAB") out=$out'\t' ;;
            "$PROBE_CR") out=$out'\r' ;;
            *) out=$out$(printf '\\u%04x' "'$ch") ;;
        esac
    done
    printf '"%s"' "$out"
}

observe() {
    # observe KEY TEXT: records a string.
    PROBE_FIELDS="$PROBE_FIELDS, $(json_string "$1"): $(json_string "$2")"
}

observe_number() {
    # observe_number KEY INTEGER: records a number (anything else is recorded as a string).
    case $2 in
        ''|-|*[!0-9-]*|?*-*|0?*|-0*) observe "$1" "$2" ;;
        *) PROBE_FIELDS="$PROBE_FIELDS, $(json_string "$1"): $2" ;;
    esac
}

observe_flag() {
    # observe_flag KEY COMMAND...: records true when COMMAND succeeds, else false.
    local key=$1
    shift
    if "$@"; then
        PROBE_FIELDS="$PROBE_FIELDS, $(json_string "$key"): true"
    else
        PROBE_FIELDS="$PROBE_FIELDS, $(json_string "$key"): false"
    fi
}

observe_run() {
    # observe_run NAME COMMAND...: runs COMMAND and records NAME_status, NAME_stdout and
    # NAME_stderr (without their final newlines).
    local name=$1 status
    shift
    "$@" >"$PROBE_DIR/.stdout" 2>"$PROBE_DIR/.stderr"
    status=$?
    observe_number "${name}_status" "$status"
    observe "${name}_stdout" "$(cat "$PROBE_DIR/.stdout")"
    observe "${name}_stderr" "$(cat "$PROBE_DIR/.stderr")"
}

probe_report() {
    # Prints the observation: one line, {"probe": ID, ...}. Call it once, at the end.
    printf '{"probe": %s%s}\n' "$(json_string "$PROBE_ID")" "$PROBE_FIELDS" >&3
}

wait_until() {
    # wait_until SECONDS COMMAND...: polls COMMAND every half second until it succeeds (0) or
    # SECONDS have passed (1). Sets WAITED_S to the whole seconds waited, by the clock.
    local limit_s=$1 started_s
    shift
    started_s=$(date +%s)
    WAITED_S=0
    while :; do
        if "$@"; then
            WAITED_S=$(( $(date +%s) - started_s ))
            return 0
        fi
        WAITED_S=$(( $(date +%s) - started_s ))
        [ "$WAITED_S" -ge "$limit_s" ] && return 1
        sleep 0.5
    done
}

line_count() {
    # line_count FILE: how many lines FILE has (0 when it does not exist).
    if [ -f "$1" ]; then
        wc -l <"$1" | tr -d ' '
    else
        echo 0
    fi
}

matches() {
    # matches TEXT REGEX: TEXT matches the extended regular expression REGEX.
    printf '%s\n' "$1" | grep -Eq -e "$2"
}

has_lines() {
    # has_lines FILE N: FILE has at least N lines (for wait_until, which runs it each time).
    [ "$(line_count "$1")" -ge "$2" ]
}

mode_owner_group() {
    # mode_owner_group PATH: `ls -ld PATH`'s mode, owner and group, e.g. "drwxrwxrwt root wheel".
    local mode owner group
    read -r mode _ owner group _ <<<"$(ls -ld "$1")"
    printf '%s %s %s' "$mode" "$owner" "$group"
}

uses_label() {
    # uses_label LABEL: the label is booted out when the probe ends.
    PROBE_LABELS_USED="$PROBE_LABELS_USED $1"
}

will_enable() {
    # will_enable LABEL: the probe disables LABEL; it is enabled again when the probe ends.
    PROBE_LABELS_DISABLED="$PROBE_LABELS_DISABLED $1"
}

job_script() {
    # job_script PATH BODY: a bash script for a job to run.
    printf '#!/bin/bash\n%s\n' "$2" >"$1"
    chmod 755 "$1"
}

job_plist() {
    # job_plist PATH LABEL "SCRIPT [ARGUMENT...]" [KEYS]: a launchd plist that runs
    # `/bin/bash SCRIPT ARGUMENT...` (words without spaces), with KEYS (raw plist XML) added.
    # Written as root with umask 022: root:wheel 0644.
    local word arguments="		<string>/bin/bash</string>"
    for word in $3; do
        arguments="$arguments$PROBE_NL		<string>$word</string>"
    done
    cat >"$1" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>$2</string>
	<key>ProgramArguments</key>
	<array>
$arguments
	</array>
${4:-}
</dict>
</plist>
PLIST
}

not() {
    # not COMMAND...: succeeds when COMMAND fails (for wait_until and observe_flag).
    ! "$@"
}

disabled_line() {
    # disabled_line LABEL: LABEL's line in the system domain's override database, as
    # `launchctl print-disabled system` shows it, without its indentation.
    launchctl print-disabled system | grep -F "\"$1\"" | sed 's/^[[:space:]]*//'
}

first_line() {
    # first_line START COMMAND...: the first line of COMMAND's stdout, its indentation
    # removed, that begins with START (a basic regular expression).
    local start=$1
    shift
    "$@" 2>/dev/null | sed 's/^[[:space:]]*//' | grep -m 1 -e "^$start"
}

is_loaded() {
    # is_loaded LABEL: launchd knows LABEL in the system domain.
    launchctl print "system/$1" >/dev/null 2>&1
}

probe_cleanup() {
    # Leaves the Mac as the probe found it: no job loaded, no file, labels enabled again.
    # The job this script runs as goes last: booting it out ends this script.
    local label
    for label in $PROBE_LABELS_USED; do
        if [ "$label" != "$PROBE_SELF_LABEL" ] && is_loaded "$label"; then
            launchctl bootout "system/$label" >/dev/null 2>&1
        fi
    done
    rm -f "/Library/LaunchDaemons/$PROBE_LABEL.plist" "/Library/LaunchDaemons/$PROBE_LABEL".*.plist
    rm -rf "$PROBE_DIR"
    for label in $PROBE_LABELS_DISABLED; do
        launchctl enable "system/$label" >/dev/null 2>&1
    done
    if [ -n "$PROBE_SELF_LABEL" ]; then
        launchctl bootout "system/$PROBE_SELF_LABEL" >/dev/null 2>&1
    fi
}

umask 022
# Not emptied first: the second phase of a probe that reboots finds its files here.
mkdir -p "$PROBE_DIR"
trap probe_cleanup EXIT
