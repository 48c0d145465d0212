"""Crash-point exploration finds a stranding window that a run without faults never shows; crash
runs forked from a snapshot find what runs replayed from power-on find; shards join into one
report; a budget leaves the latest points; cuts inside commands name the command cut; what the
run without a cut already breaks comes first, and failures are grouped by cause."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from harness.scenarios import load_scenario
from harness.tools.crashpoints import CrashPoint
from harness.tools.crashruns import PointRun
from harness.tools.explore import Exploration, _replay_one, explore, merge, render

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
summary = "a small bootstrap that registers, applies, then hands over"

[host]
role = "gecko_t_osx_1500_m4"

[puppet]
role_model = "none"

[[puppet.applies]]
exit_code = 0
duration_s = 60
tcc = "ok"

[expect]
verdict = "quiet"
"""

PLIST = "/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist"
HEADER = f"""#!/bin/bash
set -e
PLIST={PLIST}
if [ ! -f /usr/local/sbin/ronin-puppet-bootstrap.sh ]; then
    mkdir -p /usr/local/sbin
    cp "$0" /usr/local/sbin/.copy.tmp && mv /usr/local/sbin/.copy.tmp /usr/local/sbin/ronin-puppet-bootstrap.sh
    printf '%s' '<plist version="1.0"><dict><key>Label</key><string>com.mozilla.ronin-puppet-bootstrap</string><key>ProgramArguments</key><array><string>/bin/bash</string><string>/usr/local/sbin/ronin-puppet-bootstrap.sh</string></array><key>RunAtLoad</key><true/></dict></plist>' > "$PLIST.tmp"
    mv "$PLIST.tmp" "$PLIST"
fi
/opt/puppetlabs/bin/puppet apply ./manifests/
"""
HAND_OVER = """printf '%s' '<plist version="1.0"><dict><key>Label</key><string>com.mozilla.periodic</string><key>Program</key><string>/usr/bin/true</string></dict></plist>' > /Library/LaunchDaemons/com.mozilla.periodic.plist
mkdir -p /var/tmp/semaphore && touch /var/tmp/semaphore/run-buildbot
"""
REMOVE = 'rm -f "$PLIST" /usr/local/sbin/ronin-puppet-bootstrap.sh\n'


def run(tmp_path: Path, script: str, **options) -> Exploration:
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "boot.sh").write_text(script)
    return explore(load_scenario(tmp_path / "s.toml"), tmp_path / "boot.sh", jobs=2, progress=io.StringIO(),
                   **options)


def without_wall_clock(exploration: Exploration) -> dict:
    report = exploration.to_json()
    report.pop("wall_s")
    return report


def test_removing_the_bootstrap_after_the_handover_survives_every_power_cut_between_two_steps(tmp_path):
    # (Inside commands it does not: its plists are written in place, two files are removed by
    # one rm. Those cuts are the tests below.)
    exploration = run(tmp_path, HEADER + HAND_OVER + REMOVE, cuts=False)
    assert exploration.failures == []
    whole = [point for point in exploration.points if not point.tear and not point.changes]
    assert len(whole) < exploration.steps  # equal states were not run twice
    assert len(exploration.runs) == len(exploration.points) and not exploration.left


def test_removing_the_bootstrap_before_the_handover_is_found_with_its_line_and_a_replay(tmp_path):
    exploration = run(tmp_path, HEADER + REMOVE + HAND_OVER, cuts=False)
    stranded = [f for f in exploration.failures if f.invariant == "never-stranded"]
    assert stranded, [f.invariant for f in exploration.failures]
    first = stranded[0]
    assert first.point.line.endswith("boot.sh:12")  # just after the removal, before the handover
    assert f"--power-loss-at-step {first.point.step}" in first.replay
    assert f"power-loss: injected before step {first.point.step}" in first.timeline


def test_a_cut_inside_rm_finds_the_same_window_one_change_earlier_and_names_what_rm_removed(tmp_path):
    exploration = run(tmp_path, HEADER + REMOVE + HAND_OVER)
    first = next(f for f in exploration.failures if f.invariant == "never-stranded")
    assert first.point.changes == 1 and first.point.command.startswith("rm -f ")
    assert first.point.written == (f"removed {PLIST}",)  # the plist gone, the script not yet
    assert f"--power-loss-at-step {first.point.step} --after-changes 1" in first.replay
    assert f"power-loss: injected in step {first.point.step} after 1 change(s), before rm -f" in first.timeline
    replayed = _replay_one((load_scenario(tmp_path / "s.toml"), tmp_path / "boot.sh", None, 0, first.point, None,
                            "reboot-survivable"))
    assert ("never-stranded", first.message) in replayed.violations


def test_a_plist_written_in_place_behind_an_existence_check_is_caught_by_a_torn_write(tmp_path):
    # The plist is written straight to its name: a power cut in the next seconds can leave it
    # empty, and the existence check then keeps that empty file for good.
    in_place = HEADER.replace('> "$PLIST.tmp"\n    mv "$PLIST.tmp" "$PLIST"', '> "$PLIST"')
    assert in_place != HEADER
    exploration = run(tmp_path, in_place + HAND_OVER + REMOVE, cuts=False)
    torn = [f for f in exploration.failures if f.point.tear == (PLIST,)]
    assert torn and {f.invariant for f in torn} >= {"never-stranded"}, exploration.failures
    assert all(f.point.tear for f in exploration.failures)  # whole files alone never strand it
    assert f"--tear {PLIST}" in torn[0].replay
    assert f"TORN by the power cut: {PLIST} came back empty (0 bytes)" in torn[0].timeline
    assert torn[0].cause == f"the power cut tore {PLIST} (it came back empty)"  # what on disk made it fail


def test_a_plist_written_in_place_is_caught_by_a_cut_between_bash_creating_it_and_writing_it(tmp_path):
    in_place = HEADER.replace('> "$PLIST.tmp"\n    mv "$PLIST.tmp" "$PLIST"', '> "$PLIST"')
    exploration = run(tmp_path, in_place + HAND_OVER + REMOVE)
    cut = [f for f in exploration.failures if f.point.written == (f"created {PLIST}",)]
    assert cut, [(f.invariant, f.point.describe()) for f in exploration.failures]
    assert cut[0].invariant == "launchd-accepts" and "would not load" in cut[0].message
    assert cut[0].point.tear == () and cut[0].point.faults == 1
    assert cut[0].point.command.startswith("bash ")  # the shell's own redirection


def test_when_the_run_without_a_cut_fails_that_comes_first_and_crash_points_that_only_repeat_it_are_not_listed(
        tmp_path):
    exploration = run(tmp_path, HEADER + REMOVE)  # never hands over: fails with or without a cut
    assert {invariant for invariant, _ in exploration.uncut} >= {"converges"}
    assert exploration.failures == [] and exploration.as_uncut > 0
    lines = render(exploration).splitlines()
    assert lines[1].startswith("  without a power cut the run already fails: ")
    assert "not handed over at the end" in lines[1]
    assert f"{exploration.as_uncut} crash point(s) break only what the run without a cut breaks" in "\n".join(lines)
    assert exploration.to_json()["uncut"]["violations"][0][0] in ("converges", "never-stranded")


def test_failures_are_grouped_by_invariant_and_cause_not_by_each_line_that_reaches_them():
    points = [CrashPoint(step, 1, f"run.sh:{10 + step}", (PLIST,)) for step in (3, 5, 8)]
    points.append(CrashPoint(9, 1, "run.sh:30"))
    torn = f"the power cut tore {PLIST} (it came back empty)"
    runs = {i: PointRun(i, point, [("never-stranded", f"stranded at line {point.line}")], "t", "",
                        torn if point.tear else "launchd did not load X")
            for i, point in enumerate(points)}
    exploration = Exploration("s", "s.toml", {"path": "run.sh", "sha256": "0"}, 0, 40, points, runs, None)
    assert [(f.cause, f.point.step, f.also_at) for f in exploration.failures] == [
        (torn, 3, [5, 8]), ("launchd did not load X", 9, [])]
    assert render(exploration).count("never-stranded: ") == 2


def test_crash_runs_from_snapshots_find_what_runs_replayed_from_power_on_find(tmp_path):
    (tmp_path / "boot.sh").write_text(HEADER + REMOVE + HAND_OVER)
    (tmp_path / "s.toml").write_text(SCENARIO)
    scenario = load_scenario(tmp_path / "s.toml")
    forked, replayed = (explore(scenario, tmp_path / "boot.sh", jobs=2, progress=io.StringIO(), method=method)
                        for method in ("fork", "replay"))
    assert forked.failures, "nothing to compare: the script should fail at some crash points"
    assert without_wall_clock(forked) == without_wall_clock(replayed)  # points, violations, timelines


def test_a_test_plan_scenario_explored_from_snapshots_gives_the_replays_report(tmp_path):
    # A fixed twelfth of test plan 1's crash points (cuts inside commands included): `tox -e
    # explore` compares all five test-plan scenarios.
    scenario = load_scenario(ROOT / "scenarios" / "test-plan-1-fresh-m4.toml")
    forked, replayed = (explore(scenario, ROOT / "src" / "run-puppet.sh", jobs=2, progress=io.StringIO(),
                                shard=(1, 12), method=method) for method in ("fork", "replay"))
    assert len(forked.runs) > 20
    assert without_wall_clock(forked) == without_wall_clock(replayed)


def test_shards_merged_give_the_report_of_an_unsharded_exploration(tmp_path):
    whole = run(tmp_path, HEADER + REMOVE + HAND_OVER)
    shards = [run(tmp_path, HEADER + REMOVE + HAND_OVER, shard=(i, 3)) for i in (1, 2, 3)]
    assert sorted(i for shard in shards for i in shard.runs) == list(range(len(whole.points)))
    assert [len(shard.runs) for shard in shards] == [len(range(i, len(whole.points), 3)) for i in range(3)]
    merged = merge([json.loads(json.dumps(shard.to_json())) for shard in shards])
    merged.wall_s = whole.wall_s
    assert merged.to_json() == whole.to_json()
    assert render(merged) == render(whole)


def test_a_budget_explores_the_earliest_points_and_reports_the_ones_it_left(tmp_path):
    exploration = run(tmp_path, HEADER + REMOVE + HAND_OVER, budget_s=0.0)
    assert exploration.runs == {} and exploration.left == list(range(len(exploration.points)))
    assert f"{len(exploration.points)} crash point(s) left unexplored when the budget of 0 s ran out" \
        in render(exploration)
    assert exploration.to_json()["left"] == exploration.left


@pytest.mark.skipif(not os.environ.get("MACSIM_EXPLORE_ALL"), reason="tox -e explore: minutes per scenario")
@pytest.mark.parametrize("name", ["test-plan-1-fresh-m4", "test-plan-2-macos-update", "test-plan-3-already-bootstrapped",
                                  "test-plan-4-apply-fails", "test-plan-5-test-kitchen"])
def test_each_of_the_five_test_plan_scenarios_explored_from_snapshots_gives_the_replays_report(name):
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    forked, replayed = (explore(scenario, ROOT / "src" / "run-puppet.sh", jobs=os.cpu_count() or 1,
                                progress=io.StringIO(), shard=(1, 4), method=method) for method in ("fork", "replay"))
    assert without_wall_clock(forked) == without_wall_clock(replayed)
