#!/bin/bash
# A short bootstrap that needs one reboot: it installs itself as a RunAtLoad LaunchDaemon,
# reboots, finishes its work at the next boot, then removes itself. The order of the last
# three steps matters: `launchctl bootout` of its own label ends this script, so the plist
# and the script copy are removed first.
set -euo pipefail

LABEL=org.example.self-removing
PLIST=/Library/LaunchDaemons/$LABEL.plist
COPY=/usr/local/sbin/self-removing.sh
DONE=/var/tmp/self-removing.done
LOG=/var/log/self-removing.log

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*"; }

install_daemon() {
    mkdir -p /usr/local/sbin
    install -m 755 "$0" "$COPY"
    cat > "$PLIST.tmp" <<PLIST_EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key><string>$LABEL</string>
    <key>ProgramArguments</key><array><string>/bin/bash</string><string>$COPY</string></array>
    <key>RunAtLoad</key><true/>
    <key>StandardOutPath</key><string>$LOG</string>
    <key>StandardErrorPath</key><string>$LOG</string>
</dict>
</plist>
PLIST_EOF
    chown root:wheel "$PLIST.tmp"
    chmod 644 "$PLIST.tmp"
    mv "$PLIST.tmp" "$PLIST"
}

if [[ ${XPC_SERVICE_NAME:-} != "$LABEL" ]]; then
    log "first run: installing $LABEL and rebooting"
    install_daemon
    shutdown -r now
    log "this line never runs: the machine is going down"
    exit 0
fi

log "running from launchd at boot"
touch "$DONE"
rm -f "$PLIST" "$COPY"
log "removing myself"
launchctl bootout "system/$LABEL"
log "this line never runs either: bootout of our own label ended the script"
