# shellcheck shell=bash
# --- probe
# id = "keepalive-pathstate"
# behaviour = "A KeepAlive PathState job is not started while its path is missing, and is started when the path appears"
# source = ["§6.2"]
# reboot = false
#
# [expect]
# bootstrap_status = 0
# started_before_path = false
# started_after_path = true
# waited_s = { at_most = 10 }  # the document gives no latency
# ---
marker="$PROBE_DIR/ran"
trigger="$PROBE_DIR/trigger"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
# The job removes its path, so that KeepAlive does not keep restarting it.
job_script "$PROBE_DIR/job.sh" "echo ran >> '$marker'
rm -f '$trigger'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh" "<key>KeepAlive</key><dict><key>PathState</key><dict><key>$trigger</key><true/></dict></dict>"
uses_label "$PROBE_LABEL"

observe_run bootstrap launchctl bootstrap system "$plist"
sleep 3
observe_flag started_before_path test -e "$marker"
touch "$trigger"
observe_flag started_after_path wait_until 20 test -e "$marker"
observe_number waited_s "$WAITED_S"
probe_report
