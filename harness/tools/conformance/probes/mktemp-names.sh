# shellcheck shell=bash
# --- probe
# id = "mktemp-names"
# behaviour = "Where BSD `mktemp` creates its files and directories, how it names them, and their modes"
# source = ["mktemp(1) (not in macos-behaviour.md)"]
# reboot = false
#
# [expect]
# default_name = "/tmp/tmp.XXXXXXXX"
# tmpdir_name = "/private/tmp/tmp.XXXXXXXX"
# prefix_name = "/private/tmp/org.macsim.probe.mktemp-names.XXXXXXXX"
# template_name = "/private/var/tmp/org.macsim.probe.mktemp-names/f.XXXXXX"
# file_mode = "-rw------- root wheel"
# directory_mode = "drwx------ root wheel"
# ---
masked() {
    # masked PATH: PATH with the random characters after its last dot replaced by X.
    printf '%s.%s' "${1%.*}" "$(printf '%s' "${1##*.}" | tr 'A-Za-z0-9' 'X')"
}

made() {
    # made PATH: PATH is removed when the probe ends (mktemp's files are outside PROBE_DIR).
    MADE="$MADE $1"
}
MADE=""

name=$(unset TMPDIR; mktemp)
made "$name"
observe default_name "$(masked "$name")"
observe file_mode "$(mode_owner_group "$name")"

name=$(TMPDIR=/private/tmp/ mktemp)
made "$name"
observe tmpdir_name "$(masked "$name")"

name=$(TMPDIR=/private/tmp/ mktemp -t "$PROBE_LABEL")
made "$name"
observe prefix_name "$(masked "$name")"

name=$(mktemp "$PROBE_DIR/f.XXXXXX")
observe template_name "$(masked "$name")"

name=$(TMPDIR=/private/tmp/ mktemp -d)
made "$name"
observe directory_mode "$(mode_owner_group "$name")"

for name in $MADE; do
    rm -rf "$name"
done
probe_report
