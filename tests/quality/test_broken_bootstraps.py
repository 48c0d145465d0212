"""The quality set: our bootstrap with one deliberate defect each, and the check that catches it.

Each defect is a one-line change to src/run-puppet.sh, the kind of mistake a reviewer could
miss. A scenario of the test plan or the field failures must fail on it, with the message that
names what went wrong; if one ever passes, the harness stopped guarding that behaviour.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner import run_scenario
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = (ROOT / "src" / "run-puppet.sh").read_text()

DEFECTS = [
    pytest.param("field-no-role", "    load_settings\n", "    load_settings\n    register_bootstrap || true\n",
                 "expect", "bootstrap-daemon-never-installed: its plist was written in boot 1",
                 id="registers before checking the preconditions"),
    pytest.param("field-missing-vault", 'die "$EXIT_NO_VAULT" "$VAULT_SOURCE is missing', 'die 0 "$VAULT_SOURCE is missing',
                 "expect", "script-exited: expected status 2", id="a missing vault ends quietly with 0"),
    pytest.param("test-plan-5-test-kitchen", "FACTER_PUPPETIZING=true FACTER_puppet_role",
                 "FACTER_PUPPETIZING=1 FACTER_puppet_role", "expect",
                 "puppet-env: apply 1 (boot 1) had FACTER_PUPPETIZING='1', expected 'true'",
                 id="the facts reaching puppet change"),
    pytest.param("test-plan-3-already-bootstrapped", "    if mechanism=$(first_regular_plist); then\n        log",
                 "    if ! mechanism=$(first_regular_plist); then\n        log", "expect",
                 "bootstrap-daemon-never-installed", id="registers on a host already handed over"),
    pytest.param("test-plan-1-fresh-m4", "    activate_regular_mechanisms\n", "\n", "expect",
                 "org.mozilla.worker-runner: expected loaded in launchd at the end",
                 id="the semaphore without loading worker-runner in that boot"),
]


@pytest.mark.parametrize("scenario, original, broken, invariant, message", DEFECTS)
def test_a_broken_bootstrap_is_caught(tmp_path, scenario, original, broken, invariant, message):
    assert BOOTSTRAP.count(original) == 1, f"the defect no longer applies: {original!r} not found once"
    script = BOOTSTRAP.replace(original, broken)
    run = run_scenario(load_scenario(ROOT / "scenarios" / f"{scenario}.toml"), script.encode(),
                       "run-puppet.sh", tmp_path / "mac")
    assert run.verdict == "fail"
    assert any(v.invariant == invariant and v.message.startswith(message) for v in run.violations), \
        [(v.invariant, v.message) for v in run.violations]
