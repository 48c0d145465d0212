"""The commands the Mac answers itself, in one table: launchctl and the shims of harness/mac/shims.

A command that is on the Mac's command paths as a shim (sandbox.SHIMS) and has no handler here
or in an installed model of the world is answered "not simulated". The world's models add their
own commands (puppet, facter, python3's mail relay, the worker) when they are installed.
"""
from __future__ import annotations

from . import launchctl
from .shims import curl, directory, files, keychain, power, python, settings, softwareupdate, ssh, sudo, system
from .shims.calls import Commands


def builtin() -> Commands:
    """A fresh table of the Mac's own commands (a Mac adds its world's to its own copy)."""
    table = Commands()
    for module in (launchctl, curl, directory, files, keychain, power, python, settings, softwareupdate, ssh,
                   sudo, system):
        table.update(module.COMMANDS)
    return table
