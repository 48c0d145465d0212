"""The Puppet repository's gate workflow (docs/gate/macsim-gate.yml), its own shell steps run for real.

A throwaway repository laid out like the fleet's holds the bootstrap at
modules/macos_run_puppet/files/run-puppet.sh. A pull-request branch changes it, and the target
branch moves after the branch was cut, so what would land (the merge) differs from the branch
tip. The workflow's steps are run with bash as GitHub would run them, against real git and
the real `macsim gate`; only the steps that need GitHub (checkouts, setup-python, apt, upload)
are left to GitHub.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "gate" / "macsim-gate.yml"
BOOTSTRAP = (ROOT / "src" / "run-puppet.sh").read_text()
SCRIPT = "modules/macos_run_puppet/files/run-puppet.sh"
# A one-line defect the gate must catch (tests/quality): the semaphore without worker-runner loaded.
DEFECT = ("    activate_regular_mechanisms\n", "\n")
# The target branch's own change after the pull request's branch was cut, far from the defect.
TARGET_CHANGE = ("# run-puppet.sh - bootstrap a Mac CI worker", "# run-puppet.sh (target branch) - bootstrap a Mac CI worker")


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Release Ops", "GIT_AUTHOR_EMAIL": "relops@example.test",
           "GIT_COMMITTER_NAME": "Release Ops", "GIT_COMMITTER_EMAIL": "relops@example.test"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def commit_script(repo: Path, content: str, message: str) -> None:
    (repo / SCRIPT).write_text(content)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """A workspace as the workflow's checkouts leave it: the fleet's repository at `fleet/` on the
    pull request's tip, macsim at `macsim/`. Returns the workspace."""
    origin, work = tmp_path / "origin.git", tmp_path / "author"
    git("init", "-q", "--bare", "--initial-branch=master", str(origin), cwd=tmp_path)
    git("clone", "-q", str(origin), str(work), cwd=tmp_path)
    (work / SCRIPT).parent.mkdir(parents=True)
    (work / "manifests").mkdir()
    (work / "manifests" / "site.pp").write_text("# nodes come from manifests/nodes/nodes.pp\n")
    commit_script(work, BOOTSTRAP, "The bootstrap as it is")
    git("push", "-q", "origin", "master", cwd=work)
    git("checkout", "-q", "-b", "pr", cwd=work)
    commit_script(work, BOOTSTRAP.replace(*DEFECT), "Hand over without loading worker-runner")
    git("push", "-q", "origin", "pr", cwd=work)
    git("checkout", "-q", "master", cwd=work)
    commit_script(work, BOOTSTRAP.replace(*TARGET_CHANGE), "The target branch moves on")
    git("push", "-q", "origin", "master", cwd=work)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    git("clone", "-q", str(origin), "fleet", cwd=workspace)
    git("checkout", "-q", "--detach", "origin/pr", cwd=workspace / "fleet")
    (workspace / "macsim").symlink_to(ROOT)
    return workspace


def steps() -> dict[str, dict]:
    document = yaml.safe_load(WORKFLOW.read_text())
    return {step["name"]: step for step in document["jobs"]["gate"]["steps"] if "name" in step}


def run_step(name: str, workspace: Path, **env: str) -> subprocess.CompletedProcess:
    """One `run:` step with bash, in its working directory, with the workflow's env."""
    document = yaml.safe_load(WORKFLOW.read_text())
    step = steps()[name]
    cwd = workspace / step.get("working-directory", ".")
    environment = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": str(workspace),
                   "GIT_CONFIG_NOSYSTEM": "1", **{k: str(v) for k, v in document["env"].items()}, **env}
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=600)


def test_the_workflow_runs_on_pull_requests_that_touch_the_bootstrap():
    document = yaml.safe_load(WORKFLOW.read_text())
    triggers = document[True] if True in document else document["on"]  # YAML 1.1 reads `on` as true
    assert triggers["pull_request"]["paths"] == ["modules/macos_run_puppet/files/**"]
    assert document["env"]["SCRIPT"] == SCRIPT
    names = [step.get("uses", step.get("name")) for step in document["jobs"]["gate"]["steps"]]
    assert names[0] == "actions/checkout@v4" and "actions/upload-artifact@v4" in names


def test_the_head_script_is_the_merge_result_not_the_branch_tip(fleet):
    done = run_step("Take the base and head scripts", fleet, BASE_REF="master")
    assert done.returncode == 0, done.stderr
    head, base = (fleet / "gate" / "head.sh").read_text(), (fleet / "gate" / "base.sh").read_text()
    assert base == BOOTSTRAP.replace(*TARGET_CHANGE)
    assert head == BOOTSTRAP.replace(*TARGET_CHANGE).replace(*DEFECT)  # both changes: what would land
    assert (fleet / "fleet" / SCRIPT).read_text() == head


def test_a_pull_request_that_does_not_merge_cleanly_stops_with_a_message(fleet):
    repo = fleet / "fleet"
    git("checkout", "-q", "-b", "conflict", cwd=repo)
    commit_script(repo, BOOTSTRAP.replace(TARGET_CHANGE[0], "# run-puppet.sh (pull request) - bootstrap"), "x")
    done = run_step("Take the base and head scripts", fleet, BASE_REF="master")
    assert done.returncode == 1
    assert "does not merge cleanly into master" in done.stdout


@pytest.mark.sandbox
def test_the_gate_step_fails_on_a_regression_and_summarizes_its_first_cause(fleet, tmp_path):
    assert run_step("Take the base and head scripts", fleet, BASE_REF="master").returncode == 0
    summary = tmp_path / "summary.md"
    done = run_step("Run the gate", fleet, GITHUB_STEP_SUMMARY=str(summary), BASE_CLAIMS="reboot-survivable",
                    REQUIRE="test-plan-1-*", SCENARIOS="scenarios/test-plan-1-fresh-m4.toml")
    assert done.returncode == 1, done.stdout + done.stderr
    text = summary.read_text()
    assert ("| test-plan-1-fresh-m4 | [pass](report/test-plan-1-fresh-m4.base.html) | "
            "[FAIL](report/test-plan-1-fresh-m4.head.html#first-cause) | **regressed, required** |") in text
    assert "org.mozilla.worker-runner: expected loaded in launchd at the end" in text
    assert "**First cause**" in text and "Replay: `macsim run --script gate/head.sh" in text
    assert {p.name for p in (fleet / "gate").iterdir()} >= {"gate.json", "junit.xml", "summary.md", "traces", "report"}
    assert "[FAIL](report/test-plan-1-fresh-m4.head.html#first-cause)" in text
    assert (fleet / "gate" / "report" / "index.html").exists()


@pytest.mark.sandbox
def test_the_gate_step_passes_when_head_behaves_as_base(fleet, tmp_path):
    assert run_step("Take the base and head scripts", fleet, BASE_REF="master").returncode == 0
    shutil.copy(fleet / "gate" / "base.sh", fleet / "gate" / "head.sh")
    summary = tmp_path / "summary.md"
    done = run_step("Run the gate", fleet, GITHUB_STEP_SUMMARY=str(summary), BASE_CLAIMS="reboot-survivable",
                    REQUIRE="test-plan-1-*", SCENARIOS="scenarios/test-plan-1-fresh-m4.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary.read_text().startswith("## macsim gate passed")
