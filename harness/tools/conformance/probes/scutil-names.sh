# shellcheck shell=bash
# --- probe
# id = "scutil-names"
# behaviour = "`scutil --get ComputerName` and `scutil --get LocalHostName` each print one name"
# source = ["scutil(8) (not in macos-behaviour.md)"]
# reboot = false
#
# [expect]
# computer_status = 0
# computer_lines = 1
# local_status = 0
# local_lines = 1
# local_shape = true
# ---
# HostName is left out: whether it is set depends on how the Mac was set up (a GitHub runner
# may not set it), not on macOS.
scutil --get ComputerName >"$PROBE_DIR/out" 2>/dev/null
observe_number computer_status "$?"
observe_number computer_lines "$(line_count "$PROBE_DIR/out")"
scutil --get LocalHostName >"$PROBE_DIR/out" 2>/dev/null
observe_number local_status "$?"
observe_number local_lines "$(line_count "$PROBE_DIR/out")"
observe_flag local_shape grep -q '^[A-Za-z0-9-][A-Za-z0-9-]*$' "$PROBE_DIR/out"
probe_report
