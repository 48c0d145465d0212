"""The commands an M4 enrolment driver uses, as a script on the simulated Mac sees them.

sysadminctl -secureTokenStatus, security find-certificate, curl to the secrets broker with a
keychain identity, softwareupdate --list and -i (macos-behaviour.md §15): each with macOS's
output and exit status, in real bash in the sandbox. One Mac runs each command's cases, every
case's stdout, stderr and status kept in /var/tmp/NAME.{out,err,status}.
"""
from __future__ import annotations

import pytest

from harness.fleet import BROKER_SECRETS, SCEP_ISSUER
from harness.mac.shims import directory, keychain
from harness.world import certificates
from harness.world.broker import SecretsBroker, vault_for
from harness.world.enrolment import Enrolment

ROLE = "gecko_t_osx_1500_m4"
pytestmark = pytest.mark.sandbox


def cases(**commands: str) -> str:
    """A script that runs each command and keeps what it printed and its status, by name."""
    lines = ["#!/bin/bash", "cd /var/root"]
    for name, command in commands.items():
        lines.append(f"{command} >/var/tmp/{name}.out 2>/var/tmp/{name}.err; echo $? >/var/tmp/{name}.status")
    return "\n".join(lines) + "\n"


def result(mac, name: str) -> tuple[str, str, int]:
    return (mac.read(f"/var/tmp/{name}.out"), mac.read(f"/var/tmp/{name}.err"),
            int(mac.read(f"/var/tmp/{name}.status")))


# sysadminctl


def test_the_secure_token_is_disabled_until_granted_then_enabled_on_stderr_with_exit_0(mac):
    def prepare(machine):
        machine.schedule_action(30, "MDM grants cltbld a secure token",
                                lambda: directory.grant_secure_token(machine.disk, "cltbld"))
    mac.run(cases(before="sysadminctl -secureTokenStatus cltbld", after="sleep 60; sysadminctl -secureTokenStatus cltbld",
                  piped="sysadminctl -secureTokenStatus cltbld 2>&1 | grep -c ENABLED",
                  unknown="sysadminctl -secureTokenStatus nosuchuser", other="sysadminctl -addUser x"),
            prepare=prepare)
    out, err, status = result(mac, "before")
    assert (out, status) == ("", 0)
    assert err.endswith(" Secure token is DISABLED for user cltbld\n")
    assert err.startswith("2026-01-05 09:00:00.000 sysadminctl[")
    _, err, status = result(mac, "after")
    assert (err.endswith(" Secure token is ENABLED for user cltbld\n"), status) == (True, 0)
    assert result(mac, "piped") == ("1\n", "", 0)
    _, err, status = result(mac, "unknown")
    assert (err.startswith("not simulated: sysadminctl -secureTokenStatus for nosuchuser"), status) == (True, 127)
    assert result(mac, "other")[2] == 127
    assert any(e.data["name"] == "sysadminctl" for e in mac.kinds("not-simulated"))


# security find-certificate


def test_a_scep_certificate_is_found_by_name_as_pem_that_openssl_reads(mac):
    def prepare(machine):
        Enrolment(certificate_name="Mac mini").install_certificate(machine)
        machine.disk.add_file("/var/root/broken.keychain", "not a keychain\n")
    system = "/Library/Keychains/System.keychain"
    mac.run(cases(issuer=f'security find-certificate -c "Mac mini" -p {system} | openssl x509 -noout -issuer -subject',
                  part='security find-certificate -c Mac -p', hashes='security find-certificate -Z -c "Mac mini" -p',
                  missing=f'security find-certificate -c "Mac maxi" -p {system}',
                  no_keychain='security find-certificate -c "Mac mini" -p /Library/Keychains/none.keychain',
                  not_keychain='security find-certificate -c "Mac mini" -p broken.keychain',
                  listing=f'security find-certificate -c "Mac mini" {system}', identity="security find-identity -v"),
            prepare=prepare)
    # OpenSSL 3 prints `issuer=CN = NAME`; macOS's LibreSSL `issuer= /CN=NAME`: the fleet greps NAME.
    assert result(mac, "issuer") == (f"issuer=CN = {SCEP_ISSUER}\nsubject=CN = Mac mini\n", "", 0)
    pem = mac.read("/var/tmp/part.out")
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.endswith("-----END CERTIFICATE-----\n")
    assert certificates.issuer_of(pem) == SCEP_ISSUER
    out, _, status = result(mac, "hashes")
    assert (out.startswith("SHA-256 hash: "), out.splitlines()[1].startswith("SHA-1 hash: "), status) == (True, True, 0)
    not_found = "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"
    assert result(mac, "missing") == ("", not_found, 44)
    assert result(mac, "no_keychain") == (
        "", "security: SecKeychainSearchCopyNext: The specified keychain could not be found.\n", 50)
    assert result(mac, "not_keychain") == (
        "", "security: SecKeychainSearchCopyNext: The specified keychain is not a valid keychain file.\n", 49)
    assert result(mac, "listing")[2] == result(mac, "identity")[2] == 127


def test_a_certificate_is_the_same_bytes_for_the_same_subject_issuer_and_time():
    first = certificates.issue.__wrapped__("Mac mini", SCEP_ISSUER, 1767603600)
    assert first == certificates.issue.__wrapped__("Mac mini", SCEP_ISSUER, 1767603600)
    assert first != certificates.issue.__wrapped__("Mac mini", SCEP_ISSUER, 1767603601)
    assert certificates.issuer_of(first[0]) == SCEP_ISSUER


# curl to the secrets broker


def test_curl_fetches_a_known_roles_secrets_with_the_keychain_identity(mac):
    def prepare(machine):
        Enrolment().install_certificate(machine)
        SecretsBroker((ROLE,)).install(machine)
    fetch = "CURL_SSL_BACKEND=securetransport curl -sS --fail-with-body --max-time 30 --cert 'Mac mini' -w '%{http_code}'"
    mac.run(cases(ok=f"{fetch} -o ok.yaml {BROKER_SECRETS}{ROLE}",
                  forbidden=f"{fetch} -o forbidden.yaml {BROKER_SECRETS}gecko_t_osx_1400_r8",
                  silent="CURL_SSL_BACKEND=securetransport curl -s --fail --cert 'Mac mini' -o fail.yaml "
                         f"{BROKER_SECRETS}gecko_t_osx_1400_r8",
                  no_identity=f"CURL_SSL_BACKEND=securetransport curl -sS --cert 'Mac maxi' -w '%{{http_code}}' "
                              f"{BROKER_SECRETS}{ROLE}",
                  libressl=f"curl -sS --cert 'Mac mini' {BROKER_SECRETS}{ROLE}",
                  unmodelled=f"{fetch} -v {BROKER_SECRETS}{ROLE}",
                  nowhere=f"{fetch} -o /var/root/no/such/x {BROKER_SECRETS}{ROLE}",
                  elsewhere="curl -sS https://example.com/"),
            prepare=prepare)
    assert result(mac, "ok") == ("200", "", 0)
    assert mac.read("/var/root/ok.yaml") == vault_for(ROLE).decode()
    assert result(mac, "forbidden") == ("403", "curl: (22) The requested URL returned error: 403\n", 22)
    assert "403 Forbidden" in mac.read("/var/root/forbidden.yaml")  # --fail-with-body keeps the body
    assert result(mac, "silent") == ("", "", 22)
    assert not mac.exists("/var/root/fail.yaml")  # --fail writes nothing
    assert result(mac, "no_identity") == (
        "000", 'curl: (58) SSL: Can\'t find the certificate "Mac maxi" and its private key in the Keychain\n', 58)
    _, err, status = result(mac, "libressl")
    assert (err.startswith("curl: (58) could not load PEM client certificate from Mac mini, LibreSSL error"),
            status) == (True, 58)
    assert result(mac, "unmodelled")[2] == 127
    assert result(mac, "nowhere") == ("200", "curl: (23) Failure writing output to destination\n", 23)
    assert result(mac, "elsewhere") == ("", "curl: (6) Could not resolve host: example.com\n", 6)


def test_curl_cannot_resolve_the_broker_while_the_network_is_down(mac):
    from harness import MachineConfig
    mac.run(cases(down="CURL_SSL_BACKEND=securetransport curl -sS --fail-with-body --cert 'Mac mini' "
                       f"-w '%{{http_code}}' -o down.yaml {BROKER_SECRETS}{ROLE}",
                  quiet=f"curl -s -w '%{{http_code}}' {BROKER_SECRETS}{ROLE}"),
            prepare=lambda machine: SecretsBroker((ROLE,)).install(machine),
            config=MachineConfig(network_up_after_s=60))
    assert result(mac, "down") == ("000", "curl: (6) Could not resolve host: forge.relops.mozilla.com\n", 6)
    assert result(mac, "quiet") == ("000", "", 6)  # -s without -S: no message


def test_the_broker_refuses_a_client_without_a_certificate_from_its_ca(mac):
    def prepare(machine):
        Enrolment(certificate_issuer="Some Other CA").install_certificate(machine)
        SecretsBroker((ROLE,)).install(machine)
    mac.run(cases(other_ca="CURL_SSL_BACKEND=securetransport curl -sS --fail-with-body --cert 'Mac mini' "
                           f"-w '%{{http_code}}' -o x {BROKER_SECRETS}{ROLE}",
                  anonymous=f"curl -s -w '%{{http_code}}' -o y {BROKER_SECRETS}{ROLE}",
                  elsewhere=f"curl -s -w '%{{http_code}}' -o z https://forge.relops.mozilla.com/other"),
            prepare=prepare)
    assert result(mac, "other_ca")[::2] == ("403", 22)
    assert result(mac, "anonymous") == ("403", "", 0)
    assert result(mac, "elsewhere") == ("404", "", 0)


# softwareupdate


def test_softwareupdate_lists_and_installs_the_command_line_tools_only_on_demand(mac):
    trigger = "/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress"
    label = "Command Line Tools for Xcode-16.2"
    mac.run(cases(empty="softwareupdate --list", trigger=f"touch {trigger}",
                  listed="softwareupdate -l", install=f"softwareupdate -i '{label}'", when="date +%s",
                  unknown="softwareupdate -i 'macOS Sequoia 15.4-24E248'", all="softwareupdate -ia"))
    header = "Software Update Tool\n\nFinding available software\n"
    assert result(mac, "empty") == ("", header + "No new software available.\n", 0)
    out, err, status = result(mac, "listed")
    assert (err, status) == (header, 0)
    assert out.splitlines()[:2] == ["Software Update found the following new or updated software:", f"* Label: {label}"]
    assert out.splitlines()[2].startswith("\tTitle: Command Line Tools for Xcode, Version: 16.2, Size: ")
    out, _, status = result(mac, "install")
    assert (out.splitlines()[-1], status) == ("Done.", 0)
    assert int(mac.read("/var/tmp/when.out")) == 1767603600 + 240  # the install took simulated time
    assert mac.exists("/Library/Developer/CommandLineTools")
    assert result(mac, "unknown")[2] == 1
    assert result(mac, "all")[2] == 127


def test_a_keychain_item_replaces_one_with_the_same_label(tmp_path):
    from harness.mac.disk import Disk
    disk = Disk.create(tmp_path / "disk")
    keychain.add_item(disk, keychain.Item("Mac mini", "A", "k"))
    keychain.add_item(disk, keychain.Item("Other", "B"))
    keychain.add_item(disk, keychain.Item("Mac mini", "C", "k"))
    assert [(i.label, i.certificate) for i in keychain.items(disk)] == [("Other", "B"), ("Mac mini", "C")]
    assert keychain.identity(disk, "Mac mini").certificate == "C"
    assert keychain.identity(disk, "Other") is None  # a certificate without its key is no identity
