# shellcheck shell=bash
# --- probe
# id = "defaults-read"
# behaviour = "`defaults read DOMAIN KEY` prints a string value as is; a missing key or domain says so on stderr and exits 1"
# source = ["defaults(1) (not in macos-behaviour.md); the collector reads the autologin user this way (/Library/Preferences/com.apple.loginwindow autoLoginUser)"]
# reboot = false
#
# [expect]
# value_status = 0
# value_stdout = "cltbld"
# missing_key_status = 1
# missing_key_message = true
# missing_domain_status = 1
# missing_domain_message = true
# ---
cat >"$PROBE_DIR/com.example.loginwindow.plist" <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>autoLoginUser</key>
	<string>cltbld</string>
</dict>
</plist>
PLIST

observe_run value defaults read "$PROBE_DIR/com.example.loginwindow" autoLoginUser
# macOS prints a timestamped `defaults[pid:tid]` line first: only the sentence is compared.
defaults read "$PROBE_DIR/com.example.loginwindow" nosuchkey >/dev/null 2>"$PROBE_DIR/err"
observe_number missing_key_status "$?"
observe_flag missing_key_message grep -q "The domain/default pair of ($PROBE_DIR/com.example.loginwindow, nosuchkey) does not exist" "$PROBE_DIR/err"
defaults read "$PROBE_DIR/no-such-domain" somekey >/dev/null 2>"$PROBE_DIR/err"
observe_number missing_domain_status "$?"
observe_flag missing_domain_message grep -q "Domain $PROBE_DIR/no-such-domain does not exist" "$PROBE_DIR/err"
probe_report
