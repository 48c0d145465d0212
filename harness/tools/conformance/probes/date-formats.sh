# shellcheck shell=bash
# --- probe
# id = "date-formats"
# behaviour = "BSD `date`: -r SECONDS in the default format and in a +FORMAT, and -j -f to parse a date"
# source = ["date(1) (not in macos-behaviour.md)"]
# reboot = false
#
# [expect]
# epoch_status = 0
# epoch_stdout = "Thu Jan  1 00:00:00 UTC 1970"
# formatted_stdout = "2023-11-14T22:13:20Z"
# parse_status = 0
# parse_stdout = "1704164645"
# ---
observe_run epoch date -u -r 0
observe_run formatted date -u -r 1700000000 '+%Y-%m-%dT%H:%M:%SZ'
observe_run parse date -u -j -f '%Y-%m-%d %H:%M:%S' '2024-01-02 03:04:05' '+%s'
probe_report
