# shellcheck shell=bash
# --- probe
# id = "bootout-self"
# behaviour = "A job whose script runs `launchctl bootout` on its own label dies before its next command"
# source = ["§5.1", "§5.3"]
# reboot = false
#
# [expect]
# bootstrap_status = 0
# ran_before = true
# ran_after = false
# gone = true
# print_after_status = 113
# ---
marker="$PROBE_DIR/lines"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
job_script "$PROBE_DIR/job.sh" "echo before >> '$marker'
launchctl bootout system/$PROBE_LABEL
echo after >> '$marker'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh" '<key>RunAtLoad</key><true/>'
uses_label "$PROBE_LABEL"

observe_run bootstrap launchctl bootstrap system "$plist"
wait_until 10 grep -q before "$marker"
wait_until 10 not is_loaded "$PROBE_LABEL"
# Time for the line after the bootout to run, if it ever does.
sleep 2
observe_flag ran_before grep -q before "$marker"
observe_flag ran_after grep -q after "$marker"
observe_flag gone not is_loaded "$PROBE_LABEL"
launchctl print "system/$PROBE_LABEL" >/dev/null 2>&1
observe_number print_after_status "$?"
probe_report
