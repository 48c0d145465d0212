"""Scenario files as pytest items: `pytest scenarios/` runs each one on a fresh simulated Mac.

Collected: `*.toml` files in a folder named `scenarios` (or given by name on the command line).
Each is one item; it passes when `macsim run` would say PASS. A failure shows what `macsim run`
shows (the broken expectations and invariants) and the command that replays the run. A file the
loader rejects fails as that item with the loader's message, and the other files still run.

Options: `--macsim-script PATH` (default: the built-in src/run-puppet.sh), `--macsim-claims`
(what the script claims: `any` or `reboot-survivable`, the default; a scenario that binds more is
skipped), `--macsim-driver PATH` (the M4 enrolment driver MDM runs, for the scenarios that have
one, instead of their own), `--macsim-seed N` (default: each scenario's own seed) and `--macsim-report DIR` (an
HTML page per run and an index.html; each item's JUnit properties and failure text link its
page). A failure shows the run's first cause first. pytest finds this plugin through the
`pytest11` entry point of the installed package.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ..fleet import CONTRACTS, binds
from ..mac import confine
from ..mac.confine import temporary_folder
from ..scenarios import (DEFAULT_SCRIPT, ScenarioError, ScenarioRun, format_error, load_scenario, run_scenario,
                         script_identity)
from ..scenarios.schema import with_driver
from .html import write_suite_index
from .suite import explain, index_row, run_page


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("macsim", "scenarios on a simulated Mac")
    group.addoption("--macsim-script", type=Path, default=None, metavar="PATH",
                    help=f"the bootstrap the scenarios run (default: {DEFAULT_SCRIPT.name} of macsim)")
    group.addoption("--macsim-driver", type=Path, default=None, metavar="PATH",
                    help="the M4 enrolment driver MDM runs in the scenarios that have one ([start] driver), "
                         "instead of theirs")
    group.addoption("--macsim-seed", type=int, default=None, metavar="N",
                    help="the seed of every scenario (default: each scenario's own)")
    group.addoption("--macsim-claims", choices=CONTRACTS, default=CONTRACTS[-1],
                    help="what the script claims to be: scenarios that bind more are skipped "
                         f"(default: {CONTRACTS[-1]})")
    group.addoption("--macsim-report", type=Path, default=None, metavar="DIR",
                    help="write an HTML page per scenario run and an index.html into DIR (absent or empty)")


REPORT_ROWS = pytest.StashKey[list]()


def pytest_configure(config: pytest.Config) -> None:
    report = config.getoption("macsim_report", None)
    if report is not None:
        if report.exists() and (not report.is_dir() or any(report.iterdir())):
            raise pytest.UsageError(f"--macsim-report {report}: exists and is not an empty directory; "
                                    "give a new path or empty it first")
        config.stash[REPORT_ROWS] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    rows = config.stash.get(REPORT_ROWS, None)
    if rows:
        script = config.getoption("macsim_script") or DEFAULT_SCRIPT
        write_suite_index(config.getoption("macsim_report"), rows,
                          script={**script_identity(script), "claims": config.getoption("macsim_claims")})


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix == ".toml" and (file_path.parent.name == "scenarios" or parent.session.isinitpath(file_path)):
        # The Macs' disks need the namespace, entered before anything starts a thread
        # (mac/confine.py); only in a session that has scenarios to run.
        confine.enter()
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    """The scenario ran and something it expects, or an invariant, did not hold."""


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        config = self.config
        script: Path = config.getoption("macsim_script") or DEFAULT_SCRIPT
        if not script.is_file():
            raise pytest.UsageError(f"--macsim-script {script}: no such file; give the path of a bootstrap script")
        scenario = load_scenario(self.path)
        driver: Path | None = config.getoption("macsim_driver")
        if driver is not None:
            if not driver.is_file():
                raise pytest.UsageError(f"--macsim-driver {driver}: no such file; give the path of an M4 "
                                        "enrolment driver script")
            scenario = with_driver(scenario, driver)
        claims = config.getoption("macsim_claims")
        if not binds(scenario.applies_to, claims):
            pytest.skip(f"binds {scenario.applies_to} bootstraps; the script claims {claims}")
        seed = config.getoption("macsim_seed")
        with temporary_folder("macsim-pytest-") as work:
            run = run_scenario(scenario, script.read_bytes(), script.name, Path(work) / "mac",
                               seed=seed, claims=claims)
        page = self._report(run, script, seed)
        if run.verdict != "pass":
            raise ScenarioFailed(self._explain(run, script) + (f"\nreport: {page}#first-cause" if page else ""))

    def _report(self, run: ScenarioRun, script: Path, seed: int | None) -> Path | None:
        """The run's page, when --macsim-report is given (the JUnit XML carries it too)."""
        rows = self.config.stash.get(REPORT_ROWS, None)
        if rows is None:
            return None
        report = self.config.getoption("macsim_report")
        page = run_page(report, run, script, seed)
        rows.append(index_row(run, page))
        self.user_properties.append(("macsim_report", str(report / page)))
        return report / page

    def _explain(self, run: ScenarioRun, script: Path) -> str:
        result = run.result
        lines = [f"{run.verdict}: {result.verdict.value} after {result.boots} boots, {result.steps} steps, "
                 f"{result.simulated_s:g} s simulated"]
        lines += explain(run, script, self.config.getoption("macsim_seed"))
        return "\n".join(lines)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, ScenarioError):
            return format_error(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"scenario {self.name}"
