# shellcheck shell=bash
# --- probe
# id = "launchctl-already-loaded"
# behaviour = "launchctl's answers for a label that is already loaded: bootstrap and load again, print"
# source = ["§3.3", "§3.1", "§3.8"]
# reboot = false
#
# [expect]
# bootstrap_status = 0
# again_status = { one_of = [5, 37] }  # 5 by default, 37 on some builds
# again_stderr = { one_of = ["Bootstrap failed: 5: Input/output error", "Bootstrap failed: 37: Operation already in progress"] }
# load_status = 0
# load_stderr = { contains = "Load failed: 5: Input/output error" }
# print_status = 0
# print_path = "path = /Library/LaunchDaemons/org.macsim.probe.launchctl-already-loaded.plist"
# print_state = "state = not running"
# ---
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
job_script "$PROBE_DIR/job.sh" "exit 0"
# No RunAtLoad: loaded and idle.
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh"
uses_label "$PROBE_LABEL"

observe_run bootstrap launchctl bootstrap system "$plist"
observe_run again launchctl bootstrap system "$plist"
observe_run load launchctl load "$plist"
launchctl print "system/$PROBE_LABEL" >/dev/null 2>&1
observe_number print_status "$?"
observe print_path "$(first_line 'path = ' launchctl print "system/$PROBE_LABEL")"
observe print_state "$(first_line 'state = ' launchctl print "system/$PROBE_LABEL")"
probe_report
