# shellcheck shell=bash
# --- probe
# id = "plist-bad-permissions"
# behaviour = "A plist that is group-writable, world-writable or not owned by root is refused by `load` and `bootstrap`: the message, the exit code, and the job does not run"
# source = ["§2.1", "§2.3"]
# reboot = false
#
# [expect]
# group_load_status = 0
# group_load_stderr = { contains = "Load failed: 122: Path had bad ownership/permissions" }
# group_bootstrap_status = 122
# group_bootstrap_stderr = "Bootstrap failed: 122: Path had bad ownership/permissions"
# group_started = false
# world_load_status = 0
# world_load_stderr = { contains = "Load failed: 122: Path had bad ownership/permissions" }
# world_bootstrap_status = 122
# world_bootstrap_stderr = "Bootstrap failed: 122: Path had bad ownership/permissions"
# world_started = false
# owner_load_status = 0
# owner_load_stderr = { contains = "Load failed: 122: Path had bad ownership/permissions" }
# owner_bootstrap_status = 122
# owner_bootstrap_stderr = "Bootstrap failed: 122: Path had bad ownership/permissions"
# owner_started = false
# ---
refused() {
    # refused CASE CHANGE...: a RunAtLoad plist of its own, changed by CHANGE, then loaded
    # and bootstrapped.
    local case=$1 label="$PROBE_LABEL.$1" plist="/Library/LaunchDaemons/$PROBE_LABEL.$1.plist"
    shift
    job_script "$PROBE_DIR/$case.sh" "echo ran >> '$PROBE_DIR/$case.ran'"
    job_plist "$plist" "$label" "$PROBE_DIR/$case.sh" '<key>RunAtLoad</key><true/>'
    uses_label "$label"
    "$@" "$plist"
    observe_run "${case}_load" launchctl load "$plist"
    observe_run "${case}_bootstrap" launchctl bootstrap system "$plist"
    sleep 2
    observe_flag "${case}_started" test -e "$PROBE_DIR/$case.ran"
}

refused group chmod 664
refused world chmod 666
refused owner chown nobody
probe_report
