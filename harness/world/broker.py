"""The secrets broker the M4 enrolment driver fetches `/var/root/vault.yaml` from.

Fakes `https://forge.relops.mozilla.com/secret/<role>` (ronin-context.md, "The M4 enrolment
driver", step 3), reached with the Mac's curl (harness/mac/shims/curl.py, which plays the
client side: name look-up, the keychain identity, the output): the broker answers 200 with
that role's vault file to a client that presents a certificate issued by the CA it trusts, for a
role it has secrets for. How it can fail: 403 for a role it does not know, and for a client
without a certificate or with one from another issuer; 404 for any other path. While the
network is down, its name does not resolve (curl's exit 6). Every other URL stays the host
curl's, which fails for want of a network, as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import fleet
from ..mac.shims import curl
from ..mac.shims.calls import Call, Mac
from . import certificates

FORBIDDEN = b"403 Forbidden: no secrets for this client\n"
NOT_FOUND = b"404 Not Found\n"


def vault_for(role: str) -> bytes:
    """The vault file the broker keeps for `role` (simulated secrets, named for the role)."""
    return f"# secrets for {role} from {fleet.BROKER_HOST} (simulated)\nvault: {{}}\n".encode()


@dataclass(frozen=True)
class SecretsBroker:
    """The broker of one Mac's world: the roles it has secrets for, and the CA it trusts."""

    roles: tuple[str, ...]
    trusted_issuer: str = fleet.SCEP_ISSUER

    def install(self, mac: Mac) -> None:
        mac.add_commands(curl.serving({fleet.BROKER_HOST: self.answer}))

    def answer(self, request: curl.Request, identity: curl.Identity | None, call: Call) -> curl.Response:
        path = urlsplit(request.url).path
        prefix = urlsplit(fleet.BROKER_SECRETS).path
        role = path[len(prefix):] if path.startswith(prefix) else ""
        if not role or "/" in role:
            return curl.Response(404, NOT_FOUND)
        if identity is None or certificates.issuer_of(identity.certificate) != self.trusted_issuer:
            return curl.Response(403, FORBIDDEN)
        if role not in self.roles:
            return curl.Response(403, FORBIDDEN)
        return curl.Response(200, vault_for(role))
