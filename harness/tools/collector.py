"""`macsim collect`: the read-only collector to run on a real Mac (collector.sh), printed.

    macsim collect > collect.sh
    scp collect.sh host: && ssh host sudo bash collect.sh > host.tgz
    macsim scenario from-host host.tgz -o scenarios/field-NAME.toml
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("collector.sh")


def add_command(subparsers) -> None:
    subparsers.add_parser(
        "collect", help="print the read-only collector to run on a real Mac as root",
        description="Prints a bash script (bash 3.2 and macOS's own tools only) that gathers, read-only, "
                    "what a bootstrap failure depends on: LaunchDaemon plists, launchd's override database "
                    "and loaded jobs, the role, the settings, the bootstrap's copies, the semaphores, the "
                    "puppet checkout's state and stray git locks, log tails, macOS's version, autologin, "
                    "Remote Login, with the owner, group and mode of each path. No secret leaves the host "
                    "(the vault, TCC databases, ssh keys and kcpassword are recorded by presence only; "
                    "remote credentials, plist environment values and the vault's values in logs are "
                    "masked). Run it with `sudo bash collect.sh > host.tgz`, then `macsim scenario "
                    "from-host host.tgz -o scenarios/field-NAME.toml`.",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def main(args: argparse.Namespace) -> int:
    sys.stdout.write(SCRIPT.read_text())
    return 0
