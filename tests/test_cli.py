"""The `macsim` command as a user meets it: output, files it writes, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import macsim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "self-removing-daemon.sh"



def test_run_shows_each_boot_and_the_command_that_replays_it():
    result = macsim("run", "--script", str(EXAMPLE), "--seed", "4")
    assert result.returncode == 0, result.stderr
    assert "boot 1  at 0 s" in result.stdout and "boot 2  at 40 s" in result.stdout
    assert "$ launchctl bootout system/org.example.self-removing  → 0" in result.stdout
    assert f"replay: macsim run --script {EXAMPLE} --seed 4" in result.stdout


def test_json_summary_names_the_script_seed_boots_verdict_and_trace(tmp_path):
    summary_path = tmp_path / "run.json"
    result = macsim("run", "--script", str(EXAMPLE), "--json", str(summary_path), "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["script"]["path"] == str(EXAMPLE)
    assert len(summary["script"]["sha256"]) == 64
    assert (summary["seed"], summary["boots"], summary["verdict"]) == (0, 2, "quiet")
    kinds = [json.loads(line)["kind"] for line in Path(summary["trace"]).read_text().splitlines()]
    assert kinds.count("boot") == 2


def test_keep_disk_leaves_the_macs_disk_and_ownership_table(tmp_path):
    keep = tmp_path / "mac"
    result = macsim("run", "--script", str(EXAMPLE), "--keep-disk", str(keep), "--quiet")
    assert result.returncode == 0, result.stderr
    assert (keep / "disk" / "private" / "var" / "tmp" / "self-removing.done").exists()
    assert not (keep / "disk" / "Library" / "LaunchDaemons" / "org.example.self-removing.plist").exists()
    assert json.loads((keep / "ownership.json").read_text())


def test_a_missing_script_is_bad_input_with_exit_code_2():
    result = macsim("run", "--script", "/no/such/script.sh")
    assert result.returncode == 2
    assert "no such file" in result.stderr and "/no/such/script.sh" in result.stderr


def test_a_keep_disk_directory_with_content_is_refused_and_left_alone(tmp_path):
    (tmp_path / "precious").write_text("mine")
    result = macsim("run", "--script", str(EXAMPLE), "--keep-disk", str(tmp_path))
    assert result.returncode == 2
    assert "not an empty directory" in result.stderr
    assert (tmp_path / "precious").read_text() == "mine"


def test_an_existing_json_file_is_never_overwritten(tmp_path):
    existing = tmp_path / "run.json"
    existing.write_text("keep me")
    result = macsim("run", "--script", str(EXAMPLE), "--json", str(existing))
    assert result.returncode == 2
    assert existing.read_text() == "keep me"


def test_a_limit_ends_the_run_with_exit_code_3(tmp_path):
    script = tmp_path / "forever.sh"
    script.write_text("#!/bin/bash\nwhile true; do sleep 3600; done\n")
    result = macsim("run", "--script", str(script), "--max-simulated-s", "7200")
    assert result.returncode == 3
    assert "verdict: limit-simulated-time" in result.stdout


def test_a_failing_scenario_shows_its_scripts_last_output_lines(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[scenario]\nsummary = "x"\n\n[[expect.facts]]\nfact = "script-exited"\nsuccess = true\n'
                        '\n[invariants]\noff = { "converges" = "x", "never-stranded" = "x" }\n')
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/bash\nfor n in 1 2 3 4 5; do echo \"line $n\"; done\nexit 3\n")
    result = macsim("run", "--script", str(script), "--output-lines", "2", str(scenario))
    assert result.returncode == 1
    assert "output of the mdm-script-job (2 of 5 lines):\n          | line 4\n          | line 5\n" in result.stdout


def test_the_timeline_shows_applies_the_network_and_the_handover(tmp_path):
    result = macsim("run", "--timeline", str(ROOT / "scenarios" / "field-dns-late-at-boot.toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "network down until 90 s" in out and "network up" in out
    assert "puppet apply 1 exits 2: clean" in out
    assert "HANDED OVER: the semaphore and a regular mechanism on disk, no bootstrap daemon left" in out
