# shellcheck shell=bash
# --- probe
# id = "install-missing-directory"
# behaviour = "BSD `install` into a directory that does not exist fails with exit 71 and does not create the directory"
# source = ["§11.2"]
# reboot = false
#
# [expect]
# status = 71
# # 15.4+ names the temporary file it opens first (INS@ and six random characters, masked here).
# stderr = { one_of = ["install: /private/var/tmp/org.macsim.probe.install-missing-directory/missing/tool.sh: No such file or directory", "install: /private/var/tmp/org.macsim.probe.install-missing-directory/missing/INS@XXXXXX: No such file or directory"] }
# directory_created = false
# ---
tool="$PROBE_DIR/tool.sh"
printf '#!/bin/bash\necho tool\n' >"$tool"

install -m 755 "$tool" "$PROBE_DIR/missing/tool.sh" 2>"$PROBE_DIR/stderr"
observe_number status "$?"
observe stderr "$(sed 's/INS@[^:/]*/INS@XXXXXX/' "$PROBE_DIR/stderr")"
observe_flag directory_created test -d "$PROBE_DIR/missing"
probe_report
