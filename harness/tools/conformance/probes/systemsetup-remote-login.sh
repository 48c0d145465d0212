# shellcheck shell=bash
# --- probe
# id = "systemsetup-remote-login"
# behaviour = "`systemsetup -getremotelogin`, as root, prints whether Remote Login (sshd) is on"
# source = ["systemsetup(8) (not in macos-behaviour.md); the collector reads Remote Login this way"]
# reboot = false
#
# [expect]
# status = 0
# shape = true
# ---
systemsetup -getremotelogin >"$PROBE_DIR/out" 2>&1
observe_number status "$?"
observe_flag shape grep -Eqx 'Remote Login: (On|Off)' "$PROBE_DIR/out"
probe_report
