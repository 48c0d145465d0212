"""The probes: bash files under `probes/`, each with its metadata and expectation in a header.

A probe file starts with a comment block between `# --- probe` and `# ---` that holds TOML
once the leading `# ` is removed:

    # --- probe
    # id = "load-runatload"                      (the file's name without .sh)
    # behaviour = "`launchctl load` of a RunAtLoad job starts it at once"
    # source = ["§4", "§3.1"]                    (sections of macos-behaviour.md, or another source)
    # reboot = false                             (true: it reboots the Mac, see tmp-after-reboot.sh)
    #
    # [expect]                                   (field of the observation = what the source says)
    # load_status = 0                            (equal to this value)
    # bootstrap_status = { one_of = [5, 119] }   (one of these)
    # waited_s = { at_least = 0, at_most = 2 }   (a number in this range)
    # load_stderr = { contains = "Load failed" } (a string containing this)
    # ---

The script that runs is the probe assembled: a shebang, `PROBE_ID=<id>`, `probes/lib.bash`,
then the probe file. The simulator and the bundle run the same bytes.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PROBES_DIR = Path(__file__).with_name("probes")
LIBRARY = PROBES_DIR / "lib.bash"
HEADER_START = "# --- probe"
HEADER_END = "# ---"
#: Where the second phase of a probe that reboots leaves its line (lib.bash: PROBE_RESULT).
RESULT_PATH = "/private/var/tmp/org.macsim.probe.{id}.result"
CHECKS = ("equals", "one_of", "range", "contains")


class ProbeError(ValueError):
    """A probe file whose header cannot be read: the message says where and how to fix it."""


@dataclass(frozen=True)
class Expectation:
    """What the source says one field of a probe's observation must be."""

    field: str
    check: str  # one of CHECKS
    value: object  # equals: the value; one_of: a tuple; range: (low or None, high or None); contains: text

    def holds(self, observed: object) -> bool:
        if self.check == "equals":
            return _same(observed, self.value)
        if self.check == "one_of":
            return any(_same(observed, option) for option in self.value)
        if self.check == "range":
            low, high = self.value
            return (_is_number(observed) and (low is None or observed >= low)
                    and (high is None or observed <= high))
        return isinstance(observed, str) and self.value in observed

    def describe(self) -> str:
        """The expectation as a reader of the table wants it: `waited_s ≤ 2`."""
        if self.check == "equals":
            return f"{self.field} = {_show(self.value)}"
        if self.check == "one_of":
            return f"{self.field} ∈ {{{', '.join(_show(v) for v in self.value)}}}"
        if self.check == "range":
            low, high = self.value
            if low is not None and high is not None:
                return f"{low} ≤ {self.field} ≤ {high}"
            return f"{self.field} ≥ {low}" if low is not None else f"{self.field} ≤ {high}"
        return f"{self.field} contains {_show(self.value)}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        # JSON's true is not 1: a boolean field must not agree with a number.
        return type(a) is type(b) and a == b
    return a == b


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    return str(value)


@dataclass(frozen=True)
class Probe:
    id: str
    behaviour: str
    sources: tuple[str, ...]
    reboot: bool
    expect: tuple[Expectation, ...]
    path: Path

    def script(self) -> str:
        """The probe as it runs: shebang, its id, the shared library, the probe file."""
        return (f"#!/bin/bash\n# macsim conformance probe {self.id} "
                f"(assembled from harness/tools/conformance/probes/{self.path.name} and lib.bash)\n"
                f"PROBE_ID='{self.id}'\n{LIBRARY.read_text()}\n{self.path.read_text()}")

    def failures(self, observation: dict) -> list[Expectation]:
        """The expectations this observation does not meet (a missing field meets none)."""
        return [e for e in self.expect if e.field not in observation or not e.holds(observation[e.field])]

    def expectation(self, field: str) -> Expectation | None:
        return next((e for e in self.expect if e.field == field), None)

    @property
    def result_path(self) -> str:
        """Where a probe that reboots leaves its observation (its second phase's stdout)."""
        return RESULT_PATH.format(id=self.id)


def load_probes(directory: Path = PROBES_DIR) -> list[Probe]:
    """Every probe in `directory`, sorted by id."""
    return [read_probe(path) for path in sorted(directory.glob("*.sh"))]


def read_probe(path: Path) -> Probe:
    """One probe file, its header checked; ProbeError says what is wrong and where."""
    header = _header(path)
    try:
        data = tomllib.loads(header)
    except tomllib.TOMLDecodeError as error:
        raise ProbeError(f"{path}: the header between {HEADER_START!r} and {HEADER_END!r} is not "
                         f"TOML ({error}); fix it so that, without the leading '# ', it parses") from None
    unknown = sorted(set(data) - {"id", "behaviour", "source", "reboot", "expect"})
    if unknown:
        raise ProbeError(f"{path}: unknown header keys {unknown}; expected id, behaviour, source, reboot, [expect]")
    expected = path.stem
    if data.get("id") != expected:
        raise ProbeError(f"{path}: header id is {data.get('id')!r}, expected {expected!r} (the file's name)")
    behaviour = data.get("behaviour")
    if not isinstance(behaviour, str) or not behaviour:
        raise ProbeError(f"{path}: header 'behaviour' must be a sentence, got {behaviour!r}")
    sources = data.get("source")
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ProbeError(f"{path}: header 'source' must name at least one macos-behaviour.md section "
                         f"(\"§4\") or other source, got {sources!r}")
    reboot = data.get("reboot")
    if not isinstance(reboot, bool):
        raise ProbeError(f"{path}: header 'reboot' must be true or false, got {reboot!r}")
    expect = data.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise ProbeError(f"{path}: header needs an [expect] table with at least one field")
    return Probe(expected, behaviour, tuple(sources), reboot,
                 tuple(_expectation(path, field, value) for field, value in expect.items()), path)


def _header(path: Path) -> str:
    lines = path.read_text().splitlines()
    try:
        start = lines.index(HEADER_START)
        end = lines.index(HEADER_END, start + 1)
    except ValueError:
        raise ProbeError(f"{path}: no header; a probe file starts with a comment block from "
                         f"{HEADER_START!r} to {HEADER_END!r} holding its TOML (see probes.py)") from None
    body = []
    for number, line in enumerate(lines[start + 1:end], start + 2):
        if line != "#" and not line.startswith("# "):
            raise ProbeError(f"{path}:{number}: header lines must start with '# ', got {line!r}")
        body.append(line[2:])
    return "\n".join(body)


def _expectation(path: Path, field: str, value: object) -> Expectation:
    where = f"{path}: [expect] {field}"
    if isinstance(value, (str, int, float, bool)):
        return Expectation(field, "equals", value)
    if isinstance(value, dict) and set(value) == {"one_of"} and isinstance(value["one_of"], list) and value["one_of"]:
        return Expectation(field, "one_of", tuple(value["one_of"]))
    if isinstance(value, dict) and set(value) == {"contains"} and isinstance(value["contains"], str):
        return Expectation(field, "contains", value["contains"])
    if isinstance(value, dict) and value and set(value) <= {"at_least", "at_most"} and all(
            _is_number(v) for v in value.values()):
        return Expectation(field, "range", (value.get("at_least"), value.get("at_most")))
    raise ProbeError(f"{where}: got {value!r}; expected a value, {{ one_of = [...] }}, "
                     f"{{ contains = \"text\" }}, or {{ at_least = N, at_most = M }}")
