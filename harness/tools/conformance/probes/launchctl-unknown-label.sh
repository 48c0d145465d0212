# shellcheck shell=bash
# --- probe
# id = "launchctl-unknown-label"
# behaviour = "launchctl's messages and exit codes for a label that is not loaded: print, bootout, kickstart, list; bootout and unload by the path of a plist that is not loaded"
# source = ["§3.8", "§3.4", "§3.6", "§3.7", "§3.2"]
# reboot = false
#
# [expect]
# print_status = 113
# print_stderr = "Could not find service \"org.macsim.probe.launchctl-unknown-label\" in domain for system"
# bootout_status = 3
# bootout_stderr = "Boot-out failed: 3: No such process"
# kickstart_status = 113
# kickstart_stderr = "Could not find service \"org.macsim.probe.launchctl-unknown-label\" in domain for system"
# list_status = 113
# list_stderr = "Could not find service \"org.macsim.probe.launchctl-unknown-label\" in domain for port"
# bootout_path_status = 5
# bootout_path_stderr = "Boot-out failed: 5: Input/output error"
# unload_status = 0
# unload_stderr = { contains = "Unload failed: 5: Input/output error" }
# ---
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
job_script "$PROBE_DIR/job.sh" "exit 0"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh"
uses_label "$PROBE_LABEL"

observe_run print launchctl print "system/$PROBE_LABEL"
observe_run bootout launchctl bootout "system/$PROBE_LABEL"
observe_run kickstart launchctl kickstart "system/$PROBE_LABEL"
observe_run list launchctl list "$PROBE_LABEL"
observe_run bootout_path launchctl bootout system "$plist"
observe_run unload launchctl unload "$plist"
probe_report
