# shellcheck shell=bash
# --- probe
# id = "throttle-interval"
# behaviour = "A KeepAlive job that exits at once is started again no sooner than 10 s after its previous start (the default ThrottleInterval); its first start is not delayed"
# source = ["§6.3", "§6.2"]
# reboot = false
#
# [expect]
# bootstrap_status = 0
# runs_seen = { at_least = 3 }
# first_wait_s = { at_most = 2 }
# first_gap_s = { at_least = 9, at_most = 12 }
# second_gap_s = { at_least = 9, at_most = 12 }
# ---
starts="$PROBE_DIR/starts"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
job_script "$PROBE_DIR/job.sh" "date +%s >> '$starts'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh" '<key>KeepAlive</key><true/>'
uses_label "$PROBE_LABEL"

loaded_s=$(date +%s)
observe_run bootstrap launchctl bootstrap system "$plist"
wait_until 40 has_lines "$starts" 3
launchctl bootout "system/$PROBE_LABEL" 2>/dev/null
observe_number runs_seen "$(line_count "$starts")"
first=$(sed -n 1p "$starts")
second=$(sed -n 2p "$starts")
third=$(sed -n 3p "$starts")
observe_number first_wait_s "$(( ${first:-0} - loaded_s ))"
observe_number first_gap_s "$(( ${second:-0} - ${first:-0} ))"
observe_number second_gap_s "$(( ${third:-0} - ${second:-0} ))"
probe_report
