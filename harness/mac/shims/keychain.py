"""The System keychain and `security find-certificate` (macos-behaviour.md §15.2).

A Mac keeps its certificates and identities (a certificate with its private key) in keychains;
MDM installs a SCEP profile's identity in the System keychain, `/Library/Keychains/System.keychain`.
On a real Mac that file is a binary database only the Security framework reads. Here it holds
the same items as JSON (label, certificate and key as PEM), so that what MDM put there survives
reboots, tears at a power cut and goes with the disk, like the real file; no script of the
fleet reads the file itself. A Mac always has a System keychain: the file missing is an empty one.

`security find-certificate [-a] [-c NAME] [-Z] -p [KEYCHAIN...]` prints the certificates whose
label (for a SCEP certificate, its subject's common name) contains NAME, first match only
without `-a`, as PEM; `-Z` puts their SHA-256 and SHA-1 hashes first. With no match it prints
`security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.`
and exits 44; a keychain that does not exist gives `The specified keychain could not be found.`
(exit 50), one that is not a keychain `The specified keychain is not a valid keychain file.`
(exit 49). security exits with the Security framework's status modulo 256: errSecItemNotFound
-25300 is 44, errSecNoSuchKeychain -25294 is 50, errSecInvalidKeychain -25295 is 49. Other
`security` commands, and find-certificate without `-p`, print "not simulated" and exit 127.

`curl --cert NAME` (CURL_SSL_BACKEND=securetransport) looks identities up here too (`identity`).
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from ..disk import Disk
from ..paths import DiskError, OutsideDisk
from .calls import Answer, Call, Commands

COMMANDS = Commands()

SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
NOT_FOUND = (44, "The specified item could not be found in the keychain.")
NO_SUCH_KEYCHAIN = (50, "The specified keychain could not be found.")
INVALID_KEYCHAIN = (49, "The specified keychain is not a valid keychain file.")
FORMAT = "macsim-keychain-1"  # what the file says it is, so a file of anything else is not a keychain


@dataclass(frozen=True)
class Item:
    """A certificate in a keychain; with its private key, an identity."""

    label: str
    certificate: str  # PEM
    key: str = ""  # PEM; empty for a certificate alone

    def to_json(self) -> dict:
        return {"label": self.label, "certificate": self.certificate, "key": self.key}


class NotAKeychain(Exception):
    """A keychain that is missing or unreadable, with security's exit status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def items(disk: Disk, keychain: str = SYSTEM_KEYCHAIN) -> list[Item]:
    """The items of a keychain on the disk, in the order they were added."""
    try:
        host = disk.present(keychain)
        system = disk.resolve(keychain) == disk.resolve(SYSTEM_KEYCHAIN)
    except (DiskError, OutsideDisk):  # a path that leads off the disk, or around in circles
        raise NotAKeychain(*NO_SUCH_KEYCHAIN) from None
    if host is None:
        if system:
            return []  # every Mac has one: missing here means empty
        raise NotAKeychain(*NO_SUCH_KEYCHAIN)
    try:
        data = json.loads(host.read_bytes())
        if data.get("format") != FORMAT:
            raise ValueError(data.get("format"))
        return [Item(entry["label"], entry["certificate"], entry.get("key", "")) for entry in data["items"]]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        raise NotAKeychain(*INVALID_KEYCHAIN) from None


def add_item(disk: Disk, item: Item, keychain: str = SYSTEM_KEYCHAIN) -> None:
    """Adds `item` to a keychain (as a SCEP profile's installation does), replacing one with the
    same label; written under a temporary name and renamed, as the Security framework does."""
    kept = [old for old in items(disk, keychain) if old.label != item.label]
    text = json.dumps({"format": FORMAT, "items": [entry.to_json() for entry in (*kept, item)]}, indent=1)
    disk.add_file(keychain, text + "\n", mode=0o644, atomic=True)


def identity(disk: Disk, label: str) -> Item | None:
    """The System keychain's identity whose label is exactly `label` (how curl's SecureTransport
    back end compares a `--cert` name), or None."""
    try:
        found = items(disk)
    except NotAKeychain:
        return None
    return next((item for item in found if item.key and item.label == label), None)


def _der(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return base64.b64decode(body)


def _usage(detail: str) -> Answer:
    return Answer(127, "", f"not simulated: security {detail}\n")


@COMMANDS.handles("security")
def security(call: Call) -> Answer:
    args = list(call.args)
    if not args or args[0] != "find-certificate":
        return _usage(" ".join(args) + " (only find-certificate -p)")
    name, every, pem, hashes, keychains = None, False, False, False, []
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "-c" and rest:
            name = rest.pop(0)
        elif arg.startswith("-") and len(arg) > 1 and set(arg[1:]) <= set("apZ"):
            every, pem, hashes = every or "a" in arg, pem or "p" in arg, hashes or "Z" in arg
        elif arg.startswith("-"):
            return _usage(f"{' '.join(args)} (find-certificate takes -a, -c NAME, -p, -Z here)")
        else:
            keychains.append(arg)
    if not pem:
        return _usage(f"{' '.join(args)} (without -p, the attribute listing is not modelled)")
    found: list[Item] = []
    for keychain in keychains or [SYSTEM_KEYCHAIN]:
        path = keychain if keychain.startswith("/") else f"{call.cwd.rstrip('/')}/{keychain}"
        try:
            found += [item for item in items(call.machine.disk, path) if name is None or name in item.label]
        except NotAKeychain as problem:
            return Answer(problem.status, "", f"security: SecKeychainSearchCopyNext: {problem.message}\n")
    if not found:
        return Answer(NOT_FOUND[0], "", f"security: SecKeychainSearchCopyNext: {NOT_FOUND[1]}\n")
    out = []
    for item in found if every else found[:1]:
        if hashes:
            der = _der(item.certificate)
            out.append(f"SHA-256 hash: {hashlib.sha256(der).hexdigest().upper()}\n"
                       f"SHA-1 hash: {hashlib.sha1(der).hexdigest().upper()}\n")
        out.append(item.certificate if item.certificate.endswith("\n") else item.certificate + "\n")
    return Answer(0, "".join(out))
