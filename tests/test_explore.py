"""Crash-point exploration finds a stranding window that a run without faults never shows."""
from __future__ import annotations

import io
from pathlib import Path

from harness.tools.explore import explore
from harness.scenarios import load_scenario

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


def run(tmp_path: Path, script: str):
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "boot.sh").write_text(script)
    return explore(load_scenario(tmp_path / "s.toml"), tmp_path / "boot.sh", jobs=2, progress=io.StringIO())


def test_removing_the_bootstrap_after_the_handover_survives_every_power_cut(tmp_path):
    exploration = run(tmp_path, HEADER + HAND_OVER + REMOVE)
    assert exploration.failures == []
    whole = [point for point in exploration.points if not point.tear]
    assert len(whole) < exploration.steps  # equal states were not run twice


def test_removing_the_bootstrap_before_the_handover_is_found_with_its_line_and_a_replay(tmp_path):
    exploration = run(tmp_path, HEADER + REMOVE + HAND_OVER)
    stranded = [f for f in exploration.failures if f.invariant == "never-stranded"]
    assert stranded, [f.invariant for f in exploration.failures]
    first = stranded[0]
    assert first.point.line.endswith("boot.sh:12")  # just after the removal, before the handover
    assert f"--power-loss-at-step {first.point.step}" in first.replay
    assert f"power-loss: injected before step {first.point.step}" in first.timeline


def test_a_plist_written_in_place_behind_an_existence_check_is_caught_by_a_torn_write(tmp_path):
    # The plist is written straight to its name: a power cut in the next seconds can leave it
    # empty, and the existence check then keeps that empty file for good.
    in_place = HEADER.replace('> "$PLIST.tmp"\n    mv "$PLIST.tmp" "$PLIST"', '> "$PLIST"')
    assert in_place != HEADER
    exploration = run(tmp_path, in_place + HAND_OVER + REMOVE)
    torn = [f for f in exploration.failures if f.point.tear == (PLIST,)]
    assert torn and {f.invariant for f in torn} >= {"never-stranded"}, exploration.failures
    assert all(f.point.tear for f in exploration.failures)  # whole files alone never strand it
    assert f"--tear {PLIST}" in torn[0].replay
    assert f"TORN by the power cut: {PLIST} came back empty (0 bytes)" in torn[0].timeline
