"""curl: the sites the world serves (the secrets broker), and the host's curl for every other URL.

The sandbox has no network, and every URL that no model of the world serves goes to the host's
curl unchanged, which fails as before for want of a network (`curl: (6) Could not resolve host`).
A model serves a site by installing `serving({HOST: site})` as the Mac's curl
(harness/world/broker.py). For a site's URL this module plays macOS's system curl
(macos-behaviour.md §15.4), for the forms a script uses:

- options: `-s`/`--silent`, `-S`/`--show-error`, `-f`/`--fail`, `--fail-with-body`,
  `-m`/`--max-time S`, `--connect-timeout S`, `-E`/`--cert NAME`, `-w`/`--write-out FORMAT`
  (`%{http_code}`, `%{response_code}`, `%{exitcode}`, `\\n`), `-o`/`--output FILE`,
  `-L`/`--location`; short options combine (`-sS`, `-sSo FILE`) and take an attached value
  (`-oFILE`). Any other option or `-w` variable, or several URLs, is "not simulated" (exit
  127): a site answers only what this module can reproduce faithfully.
- name look-up: while the network is down, exit 6 `curl: (6) Could not resolve host: HOST`.
- the client identity: with `CURL_SSL_BACKEND=securetransport` (the back end the fleet asks
  for), `--cert NAME` is the System keychain's identity whose label is exactly NAME (curl's
  SecureTransport code compares the certificate's subject summary); none: exit 58
  `curl: (58) SSL: Can't find the certificate "NAME" and its private key in the Keychain`.
  With macOS's default back end (LibreSSL), NAME is a PEM file, and one that is not there is
  exit 58 `could not load PEM client certificate from NAME, …`.
- the response: the site's status and body. The body goes to `-o FILE` (created or truncated,
  relative to the working directory), else to stdout. `--fail-with-body` on a status >= 400
  still writes the body and exits 22; `--fail` writes nothing and exits 22; both say
  `curl: (22) The requested URL returned error: STATUS`. `-w` is printed after the transfer,
  also after a failure (`000` when there was no response).
- messages: `-s` silences the progress meter and the error messages, `-S` brings the error
  messages back; without `-s` the progress meter (stderr) is the header and one final line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from ..paths import DiskError, OutsideDisk
from ..sandbox import INSIDE
from . import keychain
from .calls import Answer, Call, Commands, Exec

HOST_CURL = f"{INSIDE}/host/usr/bin/curl"
_FLAGS = {"-s": "silent", "--silent": "silent", "-S": "show_error", "--show-error": "show_error",
          "-f": "fail", "--fail": "fail", "--fail-with-body": "fail_with_body", "-L": "location",
          "--location": "location"}
_VALUES = {"-m": "max_time", "--max-time": "max_time", "--connect-timeout": "connect_timeout",
           "-E": "cert", "--cert": "cert", "-w": "write_out", "--write-out": "write_out",
           "-o": "output", "--output": "output"}
_WRITE_OUT = re.compile(r"%\{([a-z_]+)\}|\\n|%%")
METER = ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
         "                                 Dload  Upload   Total   Spent    Left  Speed\n")


@dataclass
class Request:
    """One curl command line, as far as a site needs it."""

    urls: list[str] = field(default_factory=list)
    silent: bool = False
    show_error: bool = False
    fail: bool = False
    fail_with_body: bool = False
    location: bool = False
    max_time: str | None = None
    connect_timeout: str | None = None
    cert: str | None = None
    write_out: str | None = None
    output: str | None = None
    unknown: list[str] = field(default_factory=list)  # options this module does not model

    @property
    def url(self) -> str:
        return self.urls[0] if self.urls else ""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""


@dataclass(frozen=True)
class Identity:
    """The client certificate a request presents: its keychain label and PEM."""

    label: str
    certificate: str


#: A site answers a request that reached it, given the identity the client presented (or None).
Site = Callable[[Request, "Identity | None", Call], Response]


def parse(args: list[str]) -> Request | str:
    """The request, or the usage error curl prints for a missing or bad option value."""
    request, rest = Request(), list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            request.urls += rest
            break
        if arg.startswith("--"):
            if arg in _FLAGS:
                setattr(request, _FLAGS[arg], True)
            elif arg in _VALUES:
                if not rest:
                    return f"curl: option {arg}: requires parameter\n"
                setattr(request, _VALUES[arg], rest.pop(0))
            else:
                request.unknown.append(arg)
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = f"-{letters[0]}", letters[1:]
                if letter in _FLAGS:
                    setattr(request, _FLAGS[letter], True)
                elif letter in _VALUES:
                    value = letters or (rest.pop(0) if rest else None)
                    if value is None:
                        return f"curl: option {letter}: requires parameter\n"
                    setattr(request, _VALUES[letter], value)
                    letters = ""
                else:
                    request.unknown.append(letter)
        else:
            request.urls.append(arg)
    return request


def serving(sites: dict[str, Site]) -> Commands:
    """A curl that answers the URLs of these hosts from their sites, and every other URL with
    the host's curl."""
    commands = Commands()
    commands.add("curl", lambda call: _curl(call, sites))
    return commands


COMMANDS = serving({})


def _curl(call: Call, sites: dict[str, Site]):
    request = parse(call.args)
    if isinstance(request, str):
        return Answer(2, "", request + "curl: try 'curl --help' or 'curl --manual' for more information\n")
    hosts = [urlsplit(url).hostname for url in request.urls]
    if not any(host in sites for host in hosts):
        return Exec(HOST_CURL, call.argv, dict(call.env))
    if request.write_out is not None:
        request.unknown += [f"-w %{{{name}}}" for name in _variables(request.write_out)
                            if name not in ("http_code", "response_code", "exitcode")]
    if request.unknown or len(request.urls) != 1:
        what = ", ".join(request.unknown) if request.unknown else f"{len(request.urls)} URLs"
        call.machine.event("not-simulated", pid=call.pid, job=call.job, name="curl", argv=call.argv, cwd=call.cwd)
        return Answer(127, "", f"not simulated: curl {what} for {request.url} (see harness/mac/shims/curl.py)\n")
    for option in ("max_time", "connect_timeout"):
        value = getattr(request, option)
        if value is not None and not re.fullmatch(r"\d+(\.\d+)?", value):
            name = "--" + option.replace("_", "-")
            return Answer(2, "", f"curl: option {name}: expected a proper numerical parameter\n"
                                 "curl: try 'curl --help' or 'curl --manual' for more information\n")
    return _Transfer(call, request).run(sites[hosts[0]])


class _Transfer:
    """One request to a site: name look-up, client identity, response, output."""

    def __init__(self, call: Call, request: Request) -> None:
        self.call, self.request = call, request
        self.stdout: list[str] = []
        self.stderr: list[str] = [] if request.silent else [METER]

    def run(self, site: Site) -> Answer:
        host = urlsplit(self.request.url).hostname
        if not self.call.machine.network.up():
            return self._end(6, f"Could not resolve host: {host}")
        identity = None
        if self.request.cert is not None:
            identity = self._identity(self.request.cert)
            if isinstance(identity, Answer):
                return identity
        response = site(self.request, identity, self.call)
        failing = response.status >= 400 and (self.request.fail or self.request.fail_with_body)
        if not (failing and not self.request.fail_with_body):
            problem = self._deliver(response.body)
            if problem:
                return self._end(23, problem, status=response.status)
        if not self.request.silent:
            self.stderr.append(f"100 {len(response.body):>5}  100 {len(response.body):>5}    0     0  "
                               "   0      0 --:--:-- --:--:-- --:--:--     0\n")
        if failing:
            return self._end(22, f"The requested URL returned error: {response.status}", status=response.status)
        return self._end(0, "", status=response.status)

    def _identity(self, name: str) -> Identity | Answer:
        if self.call.env.get("CURL_SSL_BACKEND", "").lower() != "securetransport":
            # LibreSSL, macOS curl's default back end, reads NAME as a PEM file.
            return self._end(58, f"could not load PEM client certificate from {name}, LibreSSL error "
                                 "error:02FFF002:system library:func(4095):No such file or directory, "
                                 "(no key found, wrong pass phrase, or wrong file format?)")
        item = keychain.identity(self.call.machine.disk, name)
        if item is None:
            return self._end(58, f'SSL: Can\'t find the certificate "{name}" and its private key in the Keychain')
        return Identity(item.label, item.certificate)

    def _deliver(self, body: bytes) -> str:
        """Writes the body where it goes; what curl says when it cannot."""
        if self.request.output is None:
            self.stdout.append(body.decode("utf-8", "replace"))
            return ""
        disk = self.call.machine.disk
        try:
            host = disk.host_path(self.request.output, cwd=self.call.cwd)
            if not host.parent.is_dir():
                raise FileNotFoundError(host)
            existed = host.exists()
            host.write_bytes(body)
        except (OSError, DiskError, OutsideDisk):
            if not self.request.silent:  # a warning, which -S does not bring back
                self.stderr.append(f"Warning: Failed to open the file {self.request.output}: No such file or "
                                   "directory\n")
            return "Failure writing output to destination"
        if not existed:
            disk.ownership.record_created(disk.mac_path(host), self.call.user)
        return ""

    def _end(self, code: int, message: str, *, status: int = 0) -> Answer:
        if code and (not self.request.silent or self.request.show_error):
            self.stderr.append(f"curl: ({code}) {message}\n")
        if self.request.write_out is not None:
            self.stdout.append(_write_out(self.request.write_out, status, code))
        return Answer(code, "".join(self.stdout), "".join(self.stderr))


def _variables(template: str) -> list[str]:
    return [match.group(1) for match in _WRITE_OUT.finditer(template) if match.group(1)]


def _write_out(template: str, status: int, code: int) -> str:
    values = {"http_code": f"{status:03d}", "response_code": f"{status:03d}", "exitcode": str(code)}

    def expand(match: re.Match) -> str:
        if match.group(0) == "\\n":
            return "\n"
        if match.group(0) == "%%":
            return "%"
        return values.get(match.group(1), match.group(0))
    return _WRITE_OUT.sub(expand, template)
