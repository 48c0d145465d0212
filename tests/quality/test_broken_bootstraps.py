"""The quality set: our bootstrap with one deliberate defect each, and the check that catches it.

Each defect is a one-line change to src/run-puppet.sh, the kind of mistake a reviewer could
miss. A scenario of the test plan or the field failures must fail on it, with the message that
names what went wrong; if one ever passes, the harness stopped guarding that behaviour.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.tools.explore import crash_points, explore
from harness.fleet import BOOTSTRAP_PLIST
from harness.mac.confine import temporary_folder
from harness.scenarios import run_scenario
from harness.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = (ROOT / "src" / "run-puppet.sh").read_text()

DEFECTS = [
    pytest.param("field-no-role", "    load_settings\n", "    load_settings\n    register_bootstrap || true\n",
                 "expect", "bootstrap-daemon-never-installed: its plist was written in boot 1",
                 id="registers before checking the preconditions"),
    pytest.param("field-missing-vault", 'die "$EXIT_NO_VAULT" "$VAULT_SOURCE is missing', 'die 0 "$VAULT_SOURCE is missing',
                 "expect", "script-exited: expected a failure", id="a missing vault ends quietly with 0"),
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
    pytest.param("fresh-signing-host-periodic", '    if [ -e "$BOOT_PLIST" ] || [ -e "$BOOT_SCRIPT" ]; then\n',
                 '    launchctl bootout "system/$BOOT_LABEL" || true; if [ -e "$BOOT_PLIST" ] || [ -e "$BOOT_SCRIPT" ]; then\n',
                 "converges", "not handed over at the end: the bootstrap plist still on disk",
                 id="the bootout before the cleanup"),
    pytest.param("test-plan-4-apply-fails", "    apply_until_clean\n", "    write_semaphore\n    apply_until_clean\n",
                 "semaphore-truthful", "the semaphore was written before any clean puppet apply",
                 id="the semaphore written before the apply"),
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


def test_a_plist_written_in_place_behind_an_existence_check_is_caught_when_a_power_cut_tears_it(tmp_path):
    # Only the crash points that tear the plist are run: the rest of test-plan-1's exploration
    # is `tox -e explore`'s job.
    original = '    bootstrap_plist_xml | write_atomically "$BOOT_PLIST" 644 root:wheel || return 1\n'
    broken = '    [ -f "$BOOT_PLIST" ] || bootstrap_plist_xml >"$BOOT_PLIST" || return 1\n'
    assert BOOTSTRAP.count(original) == 1, "the defect no longer applies"
    script = tmp_path / "run-puppet.sh"
    script.write_text(BOOTSTRAP.replace(original, broken))
    exploration = explore(load_scenario(ROOT / "scenarios" / "test-plan-1-fresh-m4.toml"), script, jobs=2,
                          progress=io.StringIO(), select=lambda point: point.tear == (BOOTSTRAP_PLIST,))
    assert exploration.points, "no crash point tears the plist: the write is no longer recent at any step"
    stranded = [f for f in exploration.failures if f.invariant == "never-stranded"]
    assert stranded, [(f.invariant, f.message) for f in exploration.failures]
    assert "the bootstrap's plist is on disk but the power cut tore it" in stranded[0].message
    assert f"--tear {BOOTSTRAP_PLIST}" in stranded[0].replay


def test_the_atomic_plist_write_leaves_no_moment_a_power_cut_could_tear_the_plist(tmp_path):
    # Written under a temporary name and renamed: the name only ever points at a whole file.
    script = tmp_path / "run-puppet.sh"
    script.write_text(BOOTSTRAP)
    exploration = explore(load_scenario(ROOT / "scenarios" / "test-plan-1-fresh-m4.toml"), script, jobs=2,
                          progress=io.StringIO(), select=lambda point: BOOTSTRAP_PLIST in point.tear)
    assert exploration.points == [] and exploration.failures == []
    assert any(point.tear for point in explore_points(script))  # other files can be torn


def explore_points(script: Path):
    with temporary_folder() as work:  # a Mac's disk is a mount: not TemporaryDirectory
        run = run_scenario(load_scenario(ROOT / "scenarios" / "test-plan-1-fresh-m4.toml"), script.read_bytes(),
                           "run-puppet.sh", work / "mac")
    return crash_points(run.result.trace.events)[0]
