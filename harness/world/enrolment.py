"""MDM's enrolment of an M4 host, as the fleet's enrolment driver waits for it: a secure token, a SCEP identity.

Fakes (ronin-context.md, "The M4 enrolment driver"; macos-behaviour.md §15.1, §15.2): the
`admin` account the enrolment creates; the moment that account gets its secure token (MDM's
bootstrap-token flow), written into its directory record so that `sysadminctl
-secureTokenStatus admin` says ENABLED from then on (harness/mac/shims/directory.py); and the
moment the SCEP profile's identity reaches the System keychain (harness/mac/shims/keychain.py):
a real certificate (certificates.py) whose subject and issuer are the scenario's, with its
private key, issued at that simulated moment.

How it can fail, as a scenario plans it: the token or the certificate comes late, or never
within the run (a delay past the run's end); the certificate names another issuer than the
one the driver expects. What the enrolment does is in the trace: each delivery is a
`scheduled` event followed by the file it writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import fleet
from ..mac.accounts import Account
from ..mac.shims import directory, keychain
from ..mac.shims.calls import Mac
from . import certificates

#: The account MDM creates at enrolment (a local administrator; cltbld is uid 501).
ADMIN = Account(fleet.SECURE_TOKEN_USER, 502, 20, f"/Users/{fleet.SECURE_TOKEN_USER}", "/bin/zsh",
                "Administrator")


def admin_account(taken_uids: set[int]) -> Account:
    """The admin account, with the first uid from 502 that the host does not use yet."""
    uid = ADMIN.uid
    while uid in taken_uids:
        uid += 1
    return Account(ADMIN.name, uid, ADMIN.gid, ADMIN.home, ADMIN.shell, ADMIN.gecos)


@dataclass(frozen=True)
class Enrolment:
    """What MDM delivers to one Mac, and when (simulated seconds since the first power-on)."""

    secure_token_after_s: float = 0.0
    certificate_after_s: float = 0.0
    certificate_name: str = fleet.SCEP_CERTIFICATE
    certificate_issuer: str = fleet.SCEP_ISSUER

    def grant_secure_token(self, mac: Mac) -> None:
        directory.grant_secure_token(mac.disk, fleet.SECURE_TOKEN_USER)

    def install_certificate(self, mac: Mac) -> None:
        """The SCEP profile's identity, issued now, into the System keychain."""
        pem, key = certificates.issue(self.certificate_name, self.certificate_issuer, int(mac.clock.wall_s))
        keychain.add_item(mac.disk, keychain.Item(self.certificate_name, pem, key))

    def deliveries(self, mac: Mac) -> list[tuple[float, str, Callable[[], None]]]:
        """(when, what the trace calls it, what it does to `mac`), in time order; the caller
        puts each on the Mac's clock (as a scenario's events are)."""
        token = (self.secure_token_after_s, f"MDM grants {fleet.SECURE_TOKEN_USER} a secure token",
                 lambda: self.grant_secure_token(mac))
        certificate = (self.certificate_after_s, f'MDM installs the SCEP profile: certificate '
                       f'"{self.certificate_name}" issued by {self.certificate_issuer}',
                       lambda: self.install_certificate(mac))
        return sorted((token, certificate), key=lambda delivery: delivery[0])
