# shellcheck shell=bash
# --- probe
# id = "sw-vers"
# behaviour = "`sw_vers` prints ProductName, ProductVersion and BuildVersion, and each option prints one value"
# source = ["sw_vers(1) (not in macos-behaviour.md)"]
# reboot = false
#
# [expect]
# full_status = 0
# # The version and build are masked: they are the Mac's, not a behaviour.
# full_stdout = "ProductName:\t\tmacOS\nProductVersion:\t\tVERSION\nBuildVersion:\t\tBUILD"
# name_stdout = "macOS"
# version_shape = true
# build_shape = true
# ---
version=$(sw_vers -productVersion)
build=$(sw_vers -buildVersion)
full=$(sw_vers)
observe_number full_status "$?"
if [ -n "$version" ] && [ -n "$build" ]; then
    full=$(printf '%s\n' "$full" | sed -e "s/	$version\$/	VERSION/" -e "s/	$build\$/	BUILD/")
fi
observe full_stdout "$full"
observe name_stdout "$(sw_vers -productName)"
observe_flag version_shape matches "$version" '^[0-9]+\.[0-9]+(\.[0-9]+)?$'
observe_flag build_shape matches "$build" '^[0-9]+[A-Z][0-9]+[a-z]?$'
probe_report
