# macsim's step hook, read through BASH_ENV by every bash that starts on the simulated Mac.
# Each simple command the shell runs first reports one step (its line and file) to the
# controller and waits for the go-ahead; that is how power loss can land between any two
# commands and how concurrent jobs get a seeded order. The main shell reuses the connection
# its launcher left on fd 198; a subshell has to open its own. No answer means the controller
# is gone, and with it the machine: the shell must not run on.
#
# The hook is a loadable builtin (native/step.c: no process per step) when bash can load it,
# else the bash function below (a subshell runs `macsim-step` per command). Both take the same
# steps.
unset BASH_ENV
if [[ -n ${__MACSIM_USER_BASH_ENV-} ]]; then
    BASH_ENV=$__MACSIM_USER_BASH_ENV
    unset __MACSIM_USER_BASH_ENV
    # shellcheck disable=SC1090
    . "$BASH_ENV"
fi
set -o functrace
if enable -f /.macsim/native/step.so __macsim_step 2>/dev/null; then
    trap '{ __macsim_step "$LINENO" "${BASH_SOURCE[0]-}" "$$"; } 2>/dev/null' DEBUG
else
    __macsim_main=$$
    __macsim_step() {
        if [[ $BASHPID == "$__macsim_main" ]]; then
            printf 'S %s %s\n' "$1" "$2" >&198 && read -r __macsim_reply <&198 || kill -9 "$BASHPID"
        else
            /.macsim/bin/macsim-step "$1" "$2" || kill -9 "$BASHPID"
        fi
    }
    trap '{ __macsim_step "$LINENO" "${BASH_SOURCE[0]-}"; } 2>/dev/null' DEBUG
fi
