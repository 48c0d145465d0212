"""src/run-puppet.sh in the cases no scenario file can express: started from stdin."""
from __future__ import annotations

from pathlib import Path

from harness.scenarios import run_scenario
from harness.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """
[scenario]
summary = "a host whose TCC database exists: one clean apply hands it over in its first boot"

[host]
role = "gecko_t_osx_1500_m4"

[[host.files]]
path = "/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"
content = "SQLite format 3"
owner = "cltbld"
group = "staff"

[[puppet.applies]]
exit_code = 2
duration_s = 300
"""


def test_started_from_stdin_it_applies_and_hands_over_without_registering_a_copy_it_does_not_have(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO)
    bootstrap = (ROOT / "src" / "run-puppet.sh").read_text()
    piped = f"#!/bin/bash\n/bin/bash -s <<'RUN_PUPPET_EOF'\n{bootstrap}RUN_PUPPET_EOF\n"
    run = run_scenario(load_scenario(tmp_path / "s.toml"), piped.encode(), "piped.sh", tmp_path / "mac")
    log = run.machine.disk.host_path("/var/log/ronin-puppet-bootstrap.log").read_text()
    assert "starting from stdin" in log
    assert "started from stdin and /usr/local/sbin/ronin-puppet-bootstrap.sh does not exist: no script to register" in log
    assert not run.machine.disk.host_path("/Library/LaunchDaemons/com.mozilla.ronin-puppet-bootstrap.plist").exists()
    assert run.verdict == "pass", [v.message for v in run.violations]
