"""The trace's list of event kinds is the one a reader of a trace file can trust."""
from __future__ import annotations

import re
from pathlib import Path

from harness.trace import KINDS

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def test_every_kind_the_harness_emits_is_listed_and_every_listed_kind_is_emitted():
    source = "\n".join(p.read_text() for p in HARNESS.rglob("*.py"))
    emitted = set(re.findall(r'(?:event|append)\(\s*"([a-z-]+)"', source))
    emitted |= {"limit", "quiet", "end"}  # Machine._finish picks one of these by verdict
    listed = {kind for kinds in KINDS.values() for kind in kinds}
    assert emitted == listed
