# shellcheck shell=bash
# --- probe
# id = "load-runatload"
# behaviour = "`launchctl load` of a RunAtLoad job starts it at once; launchctl does not wait for it"
# source = ["§4", "§3.1"]
# reboot = false
#
# [expect]
# load_status = 0
# load_stderr = ""
# started = true
# waited_s = { at_most = 2 }  # "spawned right away, asynchronously"
# runs = 1
# ---
marker="$PROBE_DIR/ran"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
job_script "$PROBE_DIR/job.sh" "echo ran >> '$marker'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh" '<key>RunAtLoad</key><true/>'
uses_label "$PROBE_LABEL"

observe_run load launchctl load "$plist"
observe_flag started wait_until 10 test -s "$marker"
observe_number waited_s "$WAITED_S"
# RunAtLoad starts it once; it is not restarted when it exits.
sleep 2
observe_number runs "$(line_count "$marker")"
probe_report
