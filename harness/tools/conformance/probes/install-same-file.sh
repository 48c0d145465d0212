# shellcheck shell=bash
# --- probe
# id = "install-same-file"
# behaviour = "BSD `install` refuses to copy a file onto itself in the two-operand form, also when the two names differ"
# source = ["§11.1"]
# reboot = false
#
# [expect]
# same_status = 64
# same_stderr = "install: /private/var/tmp/org.macsim.probe.install-same-file/tool.sh and /private/var/tmp/org.macsim.probe.install-same-file/tool.sh are the same file"
# relative_status = 64
# relative_stderr = "install: ./tool.sh and /private/var/tmp/org.macsim.probe.install-same-file/tool.sh are the same file"
# ---
tool="$PROBE_DIR/tool.sh"
printf '#!/bin/bash\necho tool\n' >"$tool"

observe_run same install -m 755 "$tool" "$tool"
cd "$PROBE_DIR" || exit 1
observe_run relative install -m 755 ./tool.sh "$tool"
cd / || exit 1
probe_report
