# shellcheck shell=bash
# --- probe
# id = "boot-honours-overrides"
# behaviour = "At boot launchd does not start a RunAtLoad job whose label is disabled, and starts one that was only unloaded (no -w) again"
# source = ["§1.5", "§3.2", "§3.5"]
# reboot = true
#
# [expect]
# disabled_runs = 0
# unloaded_runs = 2  # once at `load`, once at boot
# ---
# Two phases, as in tmp-after-reboot: the second runs at the next boot as a LaunchDaemon.
after="$PROBE_LABEL.after-reboot"
disabled="$PROBE_LABEL.disabled"
unloaded="$PROBE_LABEL.unloaded"

if [ "${1:-}" = after-reboot ]; then
    PROBE_SELF_LABEL=$after
    uses_label "$after"
    uses_label "$disabled"
    uses_label "$unloaded"
    will_enable "$disabled"
    # launchd starts the boot's jobs together: give the unloaded one time to run.
    wait_until 10 has_lines "$PROBE_DIR/$unloaded.ran" 2
    sleep 2
    observe_number disabled_runs "$(line_count "$PROBE_DIR/$disabled.ran")"
    observe_number unloaded_runs "$(line_count "$PROBE_DIR/$unloaded.ran")"
    probe_report
    exit 0
fi

for label in "$disabled" "$unloaded"; do
    job_script "$PROBE_DIR/$label.sh" "echo ran >> '$PROBE_DIR/$label.ran'"
    job_plist "/Library/LaunchDaemons/$label.plist" "$label" "$PROBE_DIR/$label.sh" '<key>RunAtLoad</key><true/>'
done
launchctl disable "system/$disabled"
launchctl load "/Library/LaunchDaemons/$unloaded.plist"
wait_until 10 test -e "$PROBE_DIR/$unloaded.ran"
launchctl unload "/Library/LaunchDaemons/$unloaded.plist"

cp "$0" "$PROBE_DIR/probe.sh"
rm -f "$PROBE_RESULT"
job_plist "/Library/LaunchDaemons/$after.plist" "$after" "$PROBE_DIR/probe.sh after-reboot" \
    "<key>RunAtLoad</key><true/><key>StandardOutPath</key><string>$PROBE_RESULT</string>"
# What this phase set up is for the next boot: no clean-up now.
trap - EXIT
shutdown -r now
sleep 600
