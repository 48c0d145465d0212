"""What one simulated boot costs, against the floor of the same script in a bare sandbox.

The floor: the same ~60-command script run by bash in the same bubblewrap layout, with every
shim replaced by `true` and no step hook. macsim: `Machine.run()` of that script on a fresh Mac
(one boot: sandbox, init, launchd, the script with all its steps, the teardown). Prints the
median of N runs of each and their ratio. Run: `python bench/boot_cost.py [N]`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Limits, Machine  # noqa: E402
from harness.mac.bridge import native_program  # noqa: E402
from harness.mac.confine import remove_tree  # noqa: E402
from harness.mac.disk import Disk  # noqa: E402
from harness.mac.processes import find_bwrap  # noqa: E402
from harness.mac.sandbox import INSIDE, Runtime, bwrap_argv  # noqa: E402

SCRIPT = """#!/bin/bash
set -euo pipefail
LOG=/var/tmp/bench.log
log() { echo "$(date '+%H:%M:%S') $*" >> "$LOG"; }
log start
host=$(hostname)
version=$(sw_vers -productVersion)
mkdir -p /usr/local/sbin /var/tmp/semaphore /opt/puppet_environments
for i in 1 2 3 4 5 6 7 8 9 10; do
    echo "line $i" >> /var/tmp/data
done
count=$(wc -l < /var/tmp/data)
[ "$count" -ge 10 ]
cp /var/tmp/data /var/tmp/data.copy
grep -q "line 5" /var/tmp/data.copy
sed -e 's/line/row/' /var/tmp/data > /var/tmp/rows
install -m 755 /var/tmp/rows /usr/local/sbin/rows.sh
chown root:wheel /usr/local/sbin/rows.sh
if launchctl print system/org.example.none >/dev/null 2>&1; then log loaded; fi
launchctl list > /var/tmp/jobs
id -u > /var/tmp/uid
touch /var/tmp/semaphore/run-buildbot
log "host $host macOS $version"
rm -f /var/tmp/data.copy
log done
"""


def floor_once(bwrap: str, disk_root: Path, runtime: Runtime, script: str) -> float:
    argv = bwrap_argv(bwrap, disk_root, runtime, info_fd=9, command=["/bin/bash", script])
    argv.remove("--info-fd"), argv.remove("9")
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def bare_runtime(root: Path) -> Runtime:
    """The command directories with every shim pointing at `true` and bash at the host's bash."""
    runtime = Runtime.build(root, native_program())
    for command_dir in (root / "cmd").iterdir():
        for link in command_dir.iterdir():
            if os.readlink(link) == f"{INSIDE}/bin/macsim":
                link.unlink()
                name = "bash" if link.name in ("bash", "sh") else "true"
                link.symlink_to(f"{INSIDE}/host/usr/bin/{name}")
    return runtime


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    work = Path(tempfile.mkdtemp(prefix="macsim-bench-"))
    try:
        bwrap = find_bwrap()
        runtime = bare_runtime(work / "bare-runtime")
        floors, sims, totals = [], [], []
        for i in range(repetitions):
            disk = Disk.create(work / f"floor{i}" / "disk")
            disk.add_file("/private/var/tmp/bench.sh", SCRIPT, mode=0o755)
            floors.append(floor_once(bwrap, disk.root, runtime, "/private/var/tmp/bench.sh"))
            started = time.perf_counter()
            machine = Machine(work / f"sim{i}", limits=Limits(real_s=60))
            machine.start_script(SCRIPT.encode(), name="bench.sh")
            ran = time.perf_counter()
            result = machine.run()
            done = time.perf_counter()
            assert result.verdict.value == "quiet", result.detail
            sims.append(done - ran)
            totals.append(done - started)
        steps = result.steps
        floor, sim, total = (statistics.median(x) for x in (floors, sims, totals))
        print(f"script: {SCRIPT.count(chr(10))} lines, {steps} steps in macsim")
        print(f"bare sandbox, no-op shims, no step hook: median {floor * 1000:.1f} ms over {repetitions} runs")
        print(f"macsim, one boot (Machine.run):           median {sim * 1000:.1f} ms  ({sim / floor:.2f}x the floor)")
        print(f"macsim, including Machine() set-up:        median {total * 1000:.1f} ms  ({total / floor:.2f}x the floor)")
    finally:
        remove_tree(work)  # its Macs' disks are mounts (harness/mac/confine.py)


if __name__ == "__main__":
    main()
