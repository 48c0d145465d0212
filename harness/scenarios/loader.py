"""The strict loader of scenario files: TOML in, the frozen dataclasses of `schema.py` out, or
one `ScenarioError` for the first problem found.

Tables are checked in the order of docs/scenarios.md, each table's unknown keys before its
values (tables.py); the host and start (load_host.py), the events (load_events.py) and the
expectations (load_expect.py) each have their reader; each value goes through a check of
`checks.py`.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from ..fleet import CONTRACTS
from ..mac.config import Limits
from . import checks
from . import load_events, load_expect, load_host
from .schema import NetworkPlan, Scenario, ScenarioError
from .tables import _KEYS, Context, Table


class _Loader(Context):
    """Reads one scenario file into a Scenario, raising its first problem."""

    def read(self) -> dict:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise self.error("", "a scenario file (TOML)", "no such file",
                             "check the path; scenarios live in scenarios/NAME.toml") from None
        except IsADirectoryError:
            raise self.error("", "a scenario file (TOML)", "a directory",
                             "give a .toml file, or pass the directory to load_scenarios") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw[:bad.start].count(b"\n") + 1
            raise self.error("", "UTF-8 text", f"the byte 0x{raw[bad.start]:02x}, which is not UTF-8",
                             f"save the file as UTF-8 (line {line})", line=line) from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as bad:
            raise self._syntax_error(str(bad), text) from None

    def _syntax_error(self, message: str, text: str) -> ScenarioError:
        where = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        reason = message[:where.start()].strip() if where else message
        if not where:  # "(at end of document)"
            line = text.count("\n") + 1
            return self.error("", "valid TOML", f"{reason.removesuffix('(at end of document)').strip()} "
                              "at the end of the file", "complete the last line", line=line)
        line, column = int(where[1]), int(where[2])
        source = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
        return self.error("", "valid TOML", f"`{source.strip()}` (column {column}: {reason})",
                          "correct the TOML on that line (strings need quotes; see "
                          "docs/scenarios.md)", line=line)

    def scenario(self) -> Scenario:
        root = Table(self, self.read(), "").allow(_KEYS[""], "a scenario file", "")
        if not root.has("scenario"):
            raise self.error("scenario", "a table [scenario] with at least a summary",
                             "nothing (the table is missing)",
                             'start the file with [scenario] and summary = "what this checks"')
        about = root.table("scenario", "scenario")
        name = about.get("name", checks.text("a name of lowercase letters, digits and dashes",
                                       '"fresh-m4-tcc-reboot"', r"[a-z0-9][a-z0-9-]*"), self.path.stem)
        summary = about.get("summary", checks.ONE_LINE)
        reproduces = about.get("reproduces", checks.ONE_LINE, None)
        applies_to = about.get("applies_to", checks.choice(CONTRACTS, '"reboot-survivable"'), CONTRACTS[0])
        seed = about.get("seed", checks.integer(0, 2**64 - 1, "7"), 0)
        self.limits = self.read_limits(root.table("limits", "limits"))
        host = load_host.host(self, root.table("host", "host"))
        start = load_host.start(self, root.table("start", "start"))
        network = NetworkPlan(root.table("network", "network").get("up_after_s", checks.seconds(example="30"), 0.0))
        puppet = load_host.puppet(self, root.table("puppet", "puppet"))
        mdm = load_host.mdm(self, root.table("mdm", "mdm")) if root.has("mdm") else None
        broker = load_host.broker(self, root.table("broker", "broker"), host) if root.has("broker") else None
        events = load_events.events(self, root, host)
        expect = load_expect.expect(self, root.table("expect", "expect"), start)
        invariants = load_expect.invariants(self, root.table("invariants", "invariants"))
        return Scenario(self.path, name, summary, reproduces, applies_to, seed, host, start, network, puppet,
                        events, self.limits, expect, invariants, mdm, broker)

    def read_limits(self, table: Table) -> Limits:
        default = Limits()
        return Limits(boots=table.get("boots", checks.integer(1, 1000, "12"), default.boots),
                      simulated_s=table.get("simulated_s", checks.seconds(positive=True, example="259200"),
                                            default.simulated_s),
                      steps=table.get("steps", checks.integer(1, None, "100000"), default.steps),
                      real_s=table.get("real_s", checks.seconds(positive=True, example="300"), default.real_s),
                      processes=table.get("processes", checks.integer(8, 1 << 20, "512"), default.processes),
                      memory_mb=table.get("memory_mb", checks.integer(16, 1 << 30, "1024"), default.memory_mb))


def load_scenario(path: Path) -> Scenario:
    """Loads one scenario file; raises ScenarioError for the first problem found in it."""
    return _Loader(Path(path)).scenario()


def load_scenarios(paths: Iterable[Path]) -> list[Scenario]:
    """Loads scenario files, and every *.toml of a directory (sorted by name), in order.

    Raises ScenarioError for the first problem: in a file, a directory with no scenario, or two
    scenarios with the same name (names are test ids).
    """
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in map(Path, paths):
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        if not files:
            raise ScenarioError(path, "", "a directory with scenario files (*.toml)", "none",
                                "add a scenario, or pass the right directory")
        for file in files:
            scenario = load_scenario(file)
            if scenario.name in seen:
                raise ScenarioError(file, "scenario.name", "a name no other scenario uses",
                                    f"{checks.render(scenario.name)}, already used by {seen[scenario.name]}",
                                    "rename one of them (the name defaults to the file name)")
            seen[scenario.name] = file
            scenarios.append(scenario)
    return scenarios
