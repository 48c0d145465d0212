# shellcheck shell=bash
# --- probe
# id = "stat-format"
# behaviour = "BSD `stat -f FORMAT` prints a file's owner, group, mode and size"
# source = ["stat(1) (not in macos-behaviour.md); the collector records owners and modes this way"]
# reboot = false
#
# [expect]
# owner_status = 0
# owner_stdout = "root:wheel 644"
# size_status = 0
# size_stdout = "5"
# ---
file="$PROBE_DIR/file"
printf 'five\n' >"$file"

# Only the first line of stdout: were GNU stat to answer, -f would report the file system,
# with free-block counts that change from run to run.
stat -f '%Su:%Sg %Lp' "$file" >"$PROBE_DIR/out" 2>/dev/null
observe_number owner_status "$?"
observe owner_stdout "$(sed -n 1p "$PROBE_DIR/out")"
stat -f '%z' "$file" >"$PROBE_DIR/out" 2>/dev/null
observe_number size_status "$?"
observe size_stdout "$(sed -n 1p "$PROBE_DIR/out")"
probe_report
