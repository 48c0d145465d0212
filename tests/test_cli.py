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


# ---- macsim explore ----

def explore_files(tmp_path: Path) -> tuple[Path, Path]:
    """A small scenario and a bootstrap that removes itself before handing over: some power
    cuts strand it."""
    from test_explore import HAND_OVER, HEADER, REMOVE, SCENARIO
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "boot.sh").write_text(HEADER + REMOVE + HAND_OVER)
    return tmp_path / "s.toml", tmp_path / "boot.sh"


def test_explore_prints_replay_commands_that_reproduce_a_cut_inside_a_command(tmp_path):
    scenario, script = explore_files(tmp_path)
    result = macsim("explore", str(scenario), "--script", str(script), "-j", "2")
    assert result.returncode == 1, result.stderr
    replays = [line.split("replay: ", 1)[1] for line in result.stdout.splitlines() if "replay: macsim run" in line]
    inside = next(replay for replay in replays if "--after-changes" in replay)
    replayed = macsim(*inside.split()[1:])
    assert replayed.returncode == 1, replayed.stderr
    assert "[never-stranded]" in replayed.stdout
    assert "--power-loss-at-step" in replayed.stdout.split("replay: ", 1)[1]  # its own replay keeps the cut


def test_explore_shards_run_on_their_own_and_merge_into_the_unsharded_report(tmp_path):
    scenario, script = explore_files(tmp_path)
    whole = macsim("explore", str(scenario), "--script", str(script), "--json", str(tmp_path / "whole.json"))
    for shard in ("1/2", "2/2"):
        part = macsim("explore", str(scenario), "--script", str(script), "--shard", shard,
                      "--json", str(tmp_path / f"{shard[0]}.json"))
        assert f"shard {shard}" in part.stdout, part.stderr
    merged = macsim("explore", "--merge", str(tmp_path / "1.json"), str(tmp_path / "2.json"),
                    "--json", str(tmp_path / "merged.json"), "--report", str(tmp_path / "report"))
    assert merged.returncode == whole.returncode == 1, merged.stderr
    failures = [json.loads((tmp_path / name).read_text())["failures"] for name in ("whole.json", "merged.json")]
    assert failures[0] == failures[1] and failures[0]
    assert (tmp_path / "report" / "index.html").is_file()


def test_explore_report_has_a_page_for_each_failures_crash_run(tmp_path):
    scenario, script = explore_files(tmp_path)
    result = macsim("explore", str(scenario), "--script", str(script), "--report", str(tmp_path / "report"))
    assert result.returncode == 1, result.stderr
    pages = sorted(path.name for path in (tmp_path / "report").glob("crash-*.html"))
    crash_runs = {line for line in result.stdout.splitlines() if line.startswith("    replay: ")}
    assert len(pages) == len(crash_runs) > 0
    assert all(page in (tmp_path / "report" / "index.html").read_text() for page in pages)


def test_explore_refuses_a_shard_out_of_range_and_a_merge_with_a_scenario(tmp_path):
    scenario, script = explore_files(tmp_path)
    out_of_range = macsim("explore", str(scenario), "--shard", "4/3")
    assert out_of_range.returncode == 2 and "--shard 4/3: expected I/N with 1 <= I <= N" in out_of_range.stderr
    both = macsim("explore", str(scenario), "--merge", str(tmp_path / "a.json"))
    assert both.returncode == 2 and "give no SCENARIO" in both.stderr
    missing = macsim("explore", "--merge", str(tmp_path / "a.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_after_changes_without_the_step_it_cuts_is_bad_input(tmp_path):
    scenario, script = explore_files(tmp_path)
    result = macsim("run", "--script", str(script), "--after-changes", "1", str(scenario))
    assert result.returncode == 2 and "--after-changes 1: expected" in result.stderr
