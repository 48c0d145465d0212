# shellcheck shell=bash
# --- probe
# id = "disable-blocks-bootstrap"
# behaviour = "`launchctl disable` works before any plist exists, and a plist with that label bootstrapped later does not start"
# source = ["§3.5", "§3.3", "§3.9"]
# reboot = false
#
# [expect]
# disable_status = 0
# disable_stderr = ""
# disabled_line = "\"org.macsim.probe.disable-blocks-bootstrap\" => disabled"
# bootstrap_status = { one_of = [5, 119] }  # "reported as 5 or 119"; the model's default is 119
# started = false
# enable_status = 0
# ---
marker="$PROBE_DIR/ran"
plist="/Library/LaunchDaemons/$PROBE_LABEL.plist"
uses_label "$PROBE_LABEL"
will_enable "$PROBE_LABEL"

observe_run disable launchctl disable "system/$PROBE_LABEL"
observe disabled_line "$(disabled_line "$PROBE_LABEL")"
job_script "$PROBE_DIR/job.sh" "echo ran >> '$marker'"
job_plist "$plist" "$PROBE_LABEL" "$PROBE_DIR/job.sh" '<key>RunAtLoad</key><true/>'
observe_run bootstrap launchctl bootstrap system "$plist"
sleep 2
observe_flag started test -e "$marker"
# Not documented either way: §1.5 says launchd keeps disabled services loaded, §3.3 that
# bootstrap fails; `print` tells which.
launchctl print "system/$PROBE_LABEL" >/dev/null 2>&1
observe_number print_status "$?"
# Not documented: whether enabling a label that was bootstrapped while disabled starts it.
observe_run enable launchctl enable "system/$PROBE_LABEL"
sleep 2
observe_flag started_after_enable test -e "$marker"
probe_report
