# shellcheck shell=bash
# --- probe
# id = "base-tools"
# behaviour = "The everyday tools a bootstrap calls are there: awk, which, sed, grep, plutil"
# source = ["macOS's base system (not in macos-behaviour.md); README: host tools macOS also ships are at their macOS paths"]
# reboot = false
#
# [expect]
# awk_status = 0
# awk_stdout = "3"
# which_status = 0
# which_stdout = "/bin/bash"
# sed_stdout = "b"
# grep_status = 0
# plutil_status = 0
# ---
# Only status and stdout: a missing tool's message names this script's temporary path.
observe awk_stdout "$(awk 'BEGIN { print 1 + 2 }' 2>/dev/null)"
observe_number awk_status "$(awk 'BEGIN { exit 0 }' 2>/dev/null; echo "$?")"
observe which_stdout "$(which bash 2>/dev/null)"
observe_number which_status "$(which bash >/dev/null 2>&1; echo "$?")"
observe sed_stdout "$(echo a | sed 's/a/b/')"
echo a | grep -q a
observe_number grep_status "$?"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict/></plist>\n' >"$PROBE_DIR/empty.plist"
observe_run plutil plutil -lint "$PROBE_DIR/empty.plist"
probe_report
