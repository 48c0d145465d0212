# shellcheck shell=bash
# --- probe
# id = "install-into-own-directory"
# behaviour = "BSD `install SRC DIR/`, where DIR/SRC's name is SRC itself, is not refused: the file is re-created from the open source and keeps its contents"
# source = ["§11.1"]
# reboot = false
#
# [expect]
# install_status = 0  # "install SRC DIR/ where DIR/basename(SRC) is the source itself is *not* caught"
# install_stderr = ""
# kept = true  # "the file is re-created from the still-open source fd"
# ---
tool="$PROBE_DIR/tool.sh"
printf '#!/bin/bash\necho tool\n' >"$tool"

observe_run install install -m 755 "$tool" "$PROBE_DIR/"
observe_flag kept grep -q 'echo tool' "$tool"
probe_report
