# shellcheck shell=bash
# --- probe
# id = "tmp-after-reboot"
# behaviour = "At boot /tmp and /var/run are emptied, and /var/tmp keeps its files"
# source = ["§9"]
# reboot = true
#
# [expect]
# tmp_kept = false
# var_run_kept = false
# var_tmp_kept = true
# ---
# Two phases: this script leaves a marker in each folder, installs itself as a LaunchDaemon
# and reboots; at the next boot launchd runs it again with `after-reboot`, and that run
# looks, reports into PROBE_RESULT (its StandardOutPath), cleans up and boots itself out.
after="$PROBE_LABEL.after-reboot"
markers="/private/tmp/$PROBE_LABEL.marker /private/var/run/$PROBE_LABEL.marker /private/var/tmp/$PROBE_LABEL.marker"

if [ "${1:-}" = after-reboot ]; then
    PROBE_SELF_LABEL=$after
    uses_label "$after"
    observe_flag tmp_kept test -e "/private/tmp/$PROBE_LABEL.marker"
    observe_flag var_run_kept test -e "/private/var/run/$PROBE_LABEL.marker"
    observe_flag var_tmp_kept test -e "/private/var/tmp/$PROBE_LABEL.marker"
    for marker in $markers; do
        rm -f "$marker"
    done
    probe_report
    exit 0
fi

for marker in $markers; do
    echo "$PROBE_ID" >"$marker"
done
cp "$0" "$PROBE_DIR/probe.sh"
rm -f "$PROBE_RESULT"
job_plist "/Library/LaunchDaemons/$after.plist" "$after" "$PROBE_DIR/probe.sh after-reboot" \
    "<key>RunAtLoad</key><true/><key>StandardOutPath</key><string>$PROBE_RESULT</string>"
# What this phase set up is for the next boot: no clean-up now.
trap - EXIT
shutdown -r now
sleep 600
