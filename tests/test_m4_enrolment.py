"""Scenarios with an M4 enrolment driver: `[start] driver`, `[mdm]`, `[broker]`, and the Mac they build.

The driver is MDM's script-job; the script under test reaches the host through the checkout
(the fake GitHub serves it at modules/macos_run_puppet/files/run-puppet.sh in every commit) and
through puppet's role. Loading is as strict as for every other table; `--driver` replaces a
scenario's driver on the command line.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import macsim
from harness.fleet import BOOTSTRAP_PLIST, CHECKOUT_SCRIPT, SCEP_ISSUER, SECURE_TOKEN_USER
from harness.mac.shims import directory, keychain
from harness.scenarios import DEFAULT_SCRIPT, ScenarioError, load_scenario, run_scenario
from harness.scenarios.build import build
from harness.scenarios.invariants import PRESENT
from harness.scenarios.schema import with_driver

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "scenarios.md"
OUR_DRIVER = ROOT / "src" / "m4-enrolment-driver.sh"
FORBIDDEN = ROOT / "scenarios" / "m4-enrolment-broker-forbidden.toml"
HEADER = '[scenario]\nsummary = "a test"\n'


def scenario_file(directory: Path, body: str, *, driver: str | None = "driver.sh") -> Path:
    if driver:
        shutil.copy(OUR_DRIVER, directory / driver)
    path = directory / "example.toml"
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def load_error(directory: Path, body: str, **options) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_file(directory, body, **options))
    return caught.value


# Loading


def test_a_driver_beside_the_scenario_is_read_with_its_name(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, '[start]\ndriver = "driver.sh"\n'))
    assert (scenario.start.driver, scenario.start.driver_name) == (OUR_DRIVER.read_bytes(), "driver.sh")
    assert (scenario.mdm, scenario.broker) == (None, None)  # the defaults apply when the Mac is built


def test_a_driver_must_be_a_file_relative_to_the_scenario(tmp_path):
    error = load_error(tmp_path, '[start]\ndriver = "/usr/local/driver.sh"\n')
    assert (error.key_path, error.expected) == ("start.driver", "a path relative to the scenario file")
    error = load_error(tmp_path, '[start]\ndriver = "missing.sh"\n')
    assert (error.key_path, error.found) == ("start.driver", f"no such file: {tmp_path / 'missing.sh'}")


def test_only_mdm_runs_a_driver(tmp_path):
    error = load_error(tmp_path, '[start]\nhow = "ssh"\ndriver = "driver.sh"\n')
    assert error.key_path == "start.driver"
    assert error.expected == 'no driver with how = "ssh" (MDM runs a driver as its script-job)'
    assert error.fix == 'use how = "mdm-script-job", or remove driver'


def test_mdm_and_broker_tables_load_with_their_defaults_filled_in(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, """
        [mdm]
        secure_token_after_s = 120
        certificate_after_s = 300

        [broker]
        """, driver=None))
    assert (scenario.mdm.secure_token_after_s, scenario.mdm.certificate_after_s) == (120.0, 300.0)
    assert (scenario.mdm.certificate_name, scenario.mdm.certificate_issuer) == ("Mac mini", SCEP_ISSUER)
    assert scenario.broker.roles == ("gecko_t_osx_1500_m4",)  # the host's role
    assert scenario.broker.trusted_issuer == SCEP_ISSUER


def test_mdm_and_broker_values_are_checked_like_every_other(tmp_path):
    error = load_error(tmp_path, '[mdm]\ncertificate_after_s = "soon"\n', driver=None)
    assert (error.key_path, error.expected) == ("mdm.certificate_after_s", "a number of seconds >= 0")
    error = load_error(tmp_path, '[mdm]\ncertificate_delay_s = 5\n', driver=None)
    assert (error.key_path, error.fix) == ("mdm.certificate_delay_s", 'did you mean "certificate_after_s"?')
    error = load_error(tmp_path, '[broker]\nroles = ["Gecko M4"]\n', driver=None)
    assert error.key_path == "broker.roles[0]"
    (tmp_path / "top.toml").write_text("mdm = 3\n" + HEADER)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "top.toml")
    assert (caught.value.key_path, caught.value.expected) == ("mdm", "a table [mdm]")


def test_with_driver_replaces_the_driver_of_scenarios_that_have_one_only(tmp_path):
    with_one = load_scenario(scenario_file(tmp_path, '[start]\ndriver = "driver.sh"\n'))
    other = tmp_path / "other.sh"
    other.write_text("#!/bin/bash\nexit 0\n")
    replaced = with_driver(with_one, other)
    assert (replaced.start.driver, replaced.start.driver_name) == (other.read_bytes(), "other.sh")
    without = load_scenario(scenario_file(tmp_path, "[host]\n", driver=None))
    assert with_driver(without, other) is without


# The Mac a driver's scenario builds


def test_the_checkout_serves_the_script_under_test_in_every_commit(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, "[host]\n", driver=None))
    stage = build(scenario, b"#!/bin/bash\necho under test\n", "run-puppet.sh", tmp_path / "mac")
    stage.github.push_commit("a later change")
    bare = stage.github.bare()
    for commit in ("HEAD~1", "HEAD"):
        shown = subprocess.run(["git", "-C", str(bare), "show", f"{commit}:{CHECKOUT_SCRIPT}"], capture_output=True)
        assert shown.stdout == b"#!/bin/bash\necho under test\n"
        tree = subprocess.run(["git", "-C", str(bare), "ls-tree", commit, CHECKOUT_SCRIPT], capture_output=True,
                              text=True)
        assert tree.stdout.startswith("100755 ")  # executable, as the driver runs it by its path


def test_an_enrolled_host_has_the_admin_account_and_what_mdm_delivered_at_power_on(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, """
        [start]
        driver = "driver.sh"

        [mdm]
        certificate_after_s = 300
        """))
    disk = build(scenario, DEFAULT_SCRIPT.read_bytes(), "run-puppet.sh", tmp_path / "mac").machine.disk
    admin = disk.accounts.account(SECURE_TOKEN_USER)
    assert (admin.uid, admin.home) == (502, "/Users/admin")
    assert directory.has_secure_token(disk, SECURE_TOKEN_USER)  # at 0: there before the first boot
    assert keychain.items(disk) == []  # at 300 s: not yet


# The documentation's examples that name a driver


def driver_blocks() -> list[str]:
    return re.findall(r"^```toml driver\n(.*?)^```$", DOCS.read_text(), flags=re.M | re.S)


def test_the_documentation_has_a_complete_example_with_a_driver():
    assert driver_blocks()


@pytest.mark.sandbox
@pytest.mark.parametrize("index", range(len(driver_blocks())))
def test_each_example_with_a_driver_passes_with_our_driver_beside_it(tmp_path, index):
    text = driver_blocks()[index]
    driver = re.search(r'^driver = "(.+)"$', text, flags=re.M).group(1)
    (tmp_path / driver).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(OUR_DRIVER, tmp_path / driver)
    (tmp_path / "example.toml").write_text(text)
    run = run_scenario(load_scenario(tmp_path / "example.toml"), DEFAULT_SCRIPT.read_bytes(), "run-puppet.sh",
                       tmp_path / "mac")
    assert run.verdict == "pass", [f"[{v.invariant}] {v.message}" for v in run.violations]


# The command line


def test_driver_needs_scenarios_to_replace_a_driver_in():
    done = macsim("run", "--driver", str(OUR_DRIVER))
    assert done.returncode == 2
    assert "--driver replaces the M4 enrolment driver of scenarios: give the scenarios too" in done.stderr


@pytest.mark.sandbox
def test_run_and_gate_take_another_driver(tmp_path):
    independent = ROOT / "tests" / "bootstraps" / "m4-driver-independent.sh"
    done = macsim("run", "--quiet", "--driver", str(independent), str(FORBIDDEN))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"driver: {independent}" in done.stdout
    done = macsim("gate", "--base", str(DEFAULT_SCRIPT), "--head", str(DEFAULT_SCRIPT), "--head-claims",
                  "reboot-survivable", "--base-claims", "reboot-survivable", "--driver", str(tmp_path / "none.sh"),
                  str(FORBIDDEN))
    assert done.returncode == 2 and "--driver" in done.stderr  # a driver that is not there is bad input


@pytest.mark.sandbox
def test_the_replay_of_a_run_with_another_driver_names_that_driver(tmp_path):
    idle = tmp_path / "idle-driver.sh"
    idle.write_text("#!/bin/bash\nexit 0\n")
    done = macsim("run", "--driver", str(idle), str(ROOT / "scenarios" / "m4-enrolment-fresh.toml"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"replay: macsim run --script {DEFAULT_SCRIPT} --claims reboot-survivable --seed 0 --driver {idle} " \
        "--timeline" in done.stdout


# Our driver reads like the bootstrap: shellcheck clean, bash 3.2 (tox -e lint checks src/run-puppet.sh)


def daemon_part() -> str:
    """The daemon script the driver writes, as it is in the driver's quoted heredoc."""
    return re.search(r"^    cat <<'DAEMON'\n(.*?)^DAEMON$", OUR_DRIVER.read_text(), flags=re.M | re.S).group(1)


@pytest.mark.parametrize("part", ["driver", "daemon"])
def test_our_driver_and_its_daemon_part_pass_shellcheck_and_the_bash32_check(tmp_path, part):
    script = OUR_DRIVER
    if part == "daemon":
        script = tmp_path / "m4-bootstrap-driver.sh"
        script.write_text(daemon_part())
    checked = subprocess.run([sys.executable, str(ROOT / "tools" / "check_bash32.py"), str(script)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    program = shutil.which("shellcheck")
    if program is None:
        pytest.skip("shellcheck is not installed (tox's tests environment has it)")
    linted = subprocess.run([program, "-s", "bash", str(script)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout



# What the built-in bootstrap does under the driver (a design choice: the scenarios accept either)


def bootstrap_registered(tmp_path: Path, semaphores: bool) -> bool:
    """Whether the built-in bootstrap, started over ssh on a host that has the driver's daemon on
    disk, writes its own LaunchDaemon."""
    files = {"/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db": "",
             "/Library/LaunchDaemons/com.mozilla.m4-bootstrap.plist": "only its presence matters here",
             "/usr/local/sbin/m4-bootstrap-driver.sh": "#!/bin/bash\\n"}
    if semaphores:
        files.update({"/Users/cltbld/Library/Preferences/semaphore/safari-enable-remote-automation-has-run": "1\\n",
                      "/var/tmp/semaphore/safari-tcc-perms-applied": ""})
    body = '[start]\nhow = "ssh"\n' + "".join(f'\n[[host.files]]\npath = "{path}"\ncontent = "{text}"\n'
                                              for path, text in files.items())
    tmp_path.mkdir()
    run = run_scenario(load_scenario(scenario_file(tmp_path, body, driver=None)), DEFAULT_SCRIPT.read_bytes(),
                       "run-puppet.sh", tmp_path / "mac")
    return any(e.kind == "file" and e.data["path"] == BOOTSTRAP_PLIST and e.data["change"] in PRESENT
               for e in run.result.trace.events)


@pytest.mark.sandbox
def test_the_bootstrap_leaves_its_return_after_a_reboot_to_the_drivers_daemon_while_that_runs_it(tmp_path):
    assert not bootstrap_registered(tmp_path / "a", semaphores=False)
    # Once puppet's Safari and TCC classes have run, the driver's daemon runs it no more.
    assert bootstrap_registered(tmp_path / "b", semaphores=True)
