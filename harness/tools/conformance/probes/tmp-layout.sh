# shellcheck shell=bash
# --- probe
# id = "tmp-layout"
# behaviour = "/tmp, /var and /etc are symlinks into /private; /private/tmp and /private/var/tmp are root:wheel, world-writable and sticky"
# source = ["§10.4", "§9"]
# reboot = false
#
# [expect]
# tmp_link = "private/tmp"
# var_link = "private/var"
# etc_link = "private/etc"
# tmp_dir = "drwxrwxrwt root wheel"
# var_tmp_dir = "drwxrwxrwt root wheel"
# ---
observe tmp_link "$(readlink /tmp)"
observe var_link "$(readlink /var)"
observe etc_link "$(readlink /etc)"
observe tmp_dir "$(mode_owner_group /private/tmp)"
observe var_tmp_dir "$(mode_owner_group /private/var/tmp)"
probe_report
