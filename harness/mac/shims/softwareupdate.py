"""`softwareupdate --list` and `softwareupdate -i LABEL`: the Command Line Tools on demand (macos-behaviour.md §15.3).

What a bootstrap uses softwareupdate for is the Command Line Tools (git): they are listed only
while the on-demand trigger file `/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress`
exists, then `-i LABEL` installs them. The catalogue here holds nothing else (no macOS update
is ever offered: MDM's updates are scenario events), and it answers whether or not the network
is up (what softwareupdate prints without one is not in the sources).

`--list` (`-l`), as root: `Software Update Tool`, a blank line and `Finding available software`
on stderr; then on stdout `Software Update found the following new or updated software:` with
one `* Label: NAME` entry and its indented `Title: …, Version: …, Size: …KiB, Recommended: YES,`
line, or `No new software available.` on stderr. Exit 0 either way.
`-i LABEL` (`--install`) of the listed label downloads and installs for `INSTALL_S` simulated
seconds, prints the progress lines `--verbose` would also show, puts the tools at
/Library/Developer/CommandLineTools and exits 0. A label not listed: `LABEL: No such update`
and `No updates are available.` on stderr, exit 1 (the wording is not confirmed on a Mac).
git itself is the host's and works before the tools are installed, so a bootstrap that checks
`git --version` first never needs this; scripts that install the tools anyway are modelled.
Anything else (`-a`, `--restart`, `--history`, `--fetch-full-installer`, …): not simulated.
"""
from __future__ import annotations

from .calls import DEFERRED, Answer, Call, Commands

COMMANDS = Commands()

TRIGGER = "/private/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress"
INSTALLED = "/Library/Developer/CommandLineTools"
INSTALL_S = 240.0
HEADER = "Software Update Tool\n\nFinding available software\n"
#: The Command Line Tools a catalogue offers, by macOS major version: (version, size in KiB).
TOOLS = {15: ("16.2", 751161), 14: ("16.2", 751161), 13: ("15.1", 711203)}


def _offered(call: Call) -> tuple[str, str, int] | None:
    """(label, version, size) of the Command Line Tools, while the trigger file asks for them."""
    if call.machine.disk.present(TRIGGER) is None:
        return None
    version, size = TOOLS.get(call.machine.config.macos_tuple[0], TOOLS[15])
    return f"Command Line Tools for Xcode-{version}", version, size


def _list(call: Call) -> Answer:
    offered = _offered(call)
    if offered is None:
        return Answer(0, "", HEADER + "No new software available.\n")
    label, version, size = offered
    return Answer(0, "Software Update found the following new or updated software:\n"
                     f"* Label: {label}\n"
                     f"\tTitle: Command Line Tools for Xcode, Version: {version}, Size: {size}KiB, "
                     "Recommended: YES, \n", HEADER)


def _install(call: Call, label: str):
    offered = _offered(call)
    if offered is None or offered[0] != label:
        return Answer(1, "", f"{HEADER}{label}: No such update\nNo updates are available.\n")
    title = "Command Line Tools for Xcode"
    progress = (f"Downloading {title}\nDownloaded {title}\nInstalling {title}\n"
                f"Done with {title}\nDone.\n")

    def done() -> None:
        call.machine.disk.add_dir(INSTALLED)
        call.reply(Answer(0, progress, HEADER))
    call.machine.clock.call_later(INSTALL_S, f"softwareupdate -i {label}", done)
    return DEFERRED


@COMMANDS.handles("softwareupdate")
def softwareupdate(call: Call):
    args = [arg for arg in call.args if arg not in ("--verbose", "--agree-to-license")]
    if args in (["--list"], ["-l"]):
        return _list(call)
    if len(args) == 2 and args[0] in ("-i", "--install"):
        return _install(call, args[1])
    return Answer(127, "", f"not simulated: softwareupdate {' '.join(call.args)} (only --list and -i LABEL)\n")
