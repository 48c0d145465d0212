"""X.509 certificates as an MDM's SCEP profile delivers them: real PEM that openssl reads, the same bytes on every run.

A certificate is built here (DER by hand: a v3 TBSCertificate with the subject and issuer as one
common name each, a validity from the simulated clock, a serial from a hash of the rest) and
signed with the host's `openssl pkeyutl`. The keys are Ed25519, each made from a seed that is a
hash of its common name: an Ed25519 key is its seed, and its signature a function of the key
and the message, so the PEM is a function of (subject, issuer, issue time) alone and a trace
that holds it replays byte for byte. A SCEP certificate is usually RSA; nothing the fleet does
looks at the key type (`openssl x509 -noout -issuer` reads the issuer, curl presents it whole).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ED25519 = "1.3.101.112"
COMMON_NAME = "2.5.4.3"
#: PKCS#8 of an Ed25519 private key, before its 32-byte seed (RFC 8410 §7).
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
VALID_DAYS = 365


class CertificateError(RuntimeError):
    """The host's openssl could not make a certificate (it needs Ed25519: OpenSSL 1.1.1 or later)."""


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _sequence(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for number in rest:
        chunk = [number & 0x7F]
        while number > 0x7F:
            number >>= 7
            chunk.append(0x80 | (number & 0x7F))
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _name(common_name: str) -> bytes:
    attribute = _sequence(_oid(COMMON_NAME), _tlv(0x0C, common_name.encode()))  # UTF8String
    return _sequence(_tlv(0x31, attribute))  # one RDN, a SET of one attribute


def _time(moment: datetime) -> bytes:
    return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())  # UTCTime (years before 2050)


def _pem(kind: str, der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"


def private_key(common_name: str) -> str:
    """The Ed25519 private key (PKCS#8 PEM) of `common_name`, from a seed its name decides."""
    seed = hashlib.sha256(f"macsim key of {common_name}".encode()).digest()
    return _pem("PRIVATE KEY", _PKCS8_PREFIX + seed)


def _openssl(*args: str, work: Path) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=work, capture_output=True, check=False)
    if done.returncode != 0:
        raise CertificateError(f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


@functools.lru_cache(maxsize=64)
def issue(subject: str, issuer: str, not_before_s: int) -> tuple[str, str]:
    """(certificate PEM, the subject's private key PEM): `subject` certified by `issuer` from
    `not_before_s` (seconds since the epoch) for VALID_DAYS days."""
    start = datetime.fromtimestamp(not_before_s, tz=timezone.utc)
    algorithm = _sequence(_oid(ED25519))
    serial = int.from_bytes(hashlib.sha256(f"{subject}|{issuer}|{not_before_s}".encode()).digest()[:8], "big")
    with tempfile.TemporaryDirectory(prefix="macsim-cert-") as folder:
        work = Path(folder)
        (work / "subject.pem").write_text(private_key(subject))
        (work / "issuer.pem").write_text(private_key(issuer))
        public = _openssl("pkey", "-in", "subject.pem", "-pubout", "-outform", "DER", work=work)
        tbs = _sequence(_tlv(0xA0, _integer(2)), _integer(serial), algorithm, _name(issuer),
                        _sequence(_time(start), _time(start + timedelta(days=VALID_DAYS))),
                        _name(subject), public)
        (work / "tbs.der").write_bytes(tbs)
        signature = _openssl("pkeyutl", "-sign", "-rawin", "-inkey", "issuer.pem", "-in", "tbs.der", work=work)
    certificate = _sequence(tbs, algorithm, _tlv(0x03, b"\x00" + signature))
    return _pem("CERTIFICATE", certificate), private_key(subject)


def _read(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, where the content starts, where it ends) of the DER element at `at`."""
    tag, size = der[at], der[at + 1]
    start = at + 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(der[start:start + count], "big")
        start += count
    return tag, start, start + size


def issuer_of(pem: str) -> str | None:
    """The issuer's common name of a certificate (PEM), or None when it is not one."""
    try:
        der = base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))
        _, start, _ = _read(der, 0)  # Certificate
        _, at, _ = _read(der, start)  # TBSCertificate
        fields = []
        while len(fields) < 4:
            tag, content, end = _read(der, at)
            if not (tag == 0xA0 and not fields):  # the optional [0] version is not a field
                fields.append((content, end))
            at = end
        issuer_start, issuer_end = fields[2]  # serial, signature algorithm, issuer
        found = None
        at = issuer_start
        while at < issuer_end:  # each RDN a SET of (OID, value) sequences
            _, rdn, rdn_end = _read(der, at)
            _, attribute, _ = _read(der, rdn)
            _, oid_start, oid_end = _read(der, attribute)
            _, value_start, value_end = _read(der, oid_end)
            if der[oid_start - 2:oid_end] == _oid(COMMON_NAME):
                found = der[value_start:value_end].decode("utf-8", "replace")
            at = rdn_end
        return found
    except (ValueError, IndexError):
        return None
