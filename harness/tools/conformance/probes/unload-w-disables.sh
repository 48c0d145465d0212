# shellcheck shell=bash
# --- probe
# id = "unload-w-disables"
# behaviour = "`launchctl unload -w` writes the override database, and a later plist with that label is not started"
# source = ["§3.2", "§3.9", "§3.1", "§1.5"]
# reboot = false
#
# [expect]
# unload_status = 0
# unload_stderr = ""
# disabled_line = "\"org.macsim.probe.unload-w-disables\" => disabled"
# database_names_label = true
# later_load_status = 0  # load and unload exit 0 even when they fail
# later_load_stderr = "/Library/LaunchDaemons/org.macsim.probe.unload-w-disables.later.plist: Service is disabled\nLoad failed: 119: Service is disabled"
# later_started = false
# ---
marker="$PROBE_DIR/ran"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
later="/Library/LaunchDaemons/$PROBE_LABEL.later.plist"
job_script "$PROBE_DIR/job.sh" "echo ran >> '$marker'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh"
uses_label "$PROBE_LABEL"
will_enable "$PROBE_LABEL"

launchctl load "$plist" 2>/dev/null
observe_run unload launchctl unload -w "$plist"
observe disabled_line "$(disabled_line "$PROBE_LABEL")"
observe_flag database_names_label grep -q "$PROBE_LABEL" /private/var/db/com.apple.xpc.launchd/disabled.plist

# Another file with the same label, which would start at once if the label were enabled.
job_plist "$later" "$PROBE_LABEL" "$PROBE_DIR/job.sh" '<key>RunAtLoad</key><true/>'
observe_run later_load launchctl load "$later"
sleep 2
observe_flag later_started test -e "$marker"
probe_report
