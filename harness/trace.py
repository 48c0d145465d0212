"""The trace: append-only events of one run, the single source of truth for every report.

Each event says when (sequence, simulated seconds, boot), who (pid as the Mac sees it and the
launchd label of its job, if any), what (`kind`) and the details (`data`). Events are frozen
once appended and are saved as JSON lines.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Iterator

# Kinds, grouped by the part of the Mac that emits them. Kept in one place so a reader of a
# trace file can look them up.
KINDS = {
    "machine": ("boot", "shutdown", "power-loss", "scheduled", "installer-boot", "macos-updated",
                "limit", "quiet", "end"),
    "process": ("process-start", "process-exit", "step"),
    "shim": ("call", "call-answered", "not-simulated"),
    "launchd": ("job-loaded", "job-skipped", "job-started", "job-exited", "job-stopping",
                "job-throttled", "job-removed", "job-spawn-failed", "override", "override-unreadable"),
    "disk": ("file", "torn", "disk-full"),
    "models": ("puppet-apply", "puppet-apply-done", "puppet-role-applied", "tcc-database",
               "git-push", "network", "worker-started", "mail"),
}


@dataclass(frozen=True)
class Event:
    seq: int
    t_s: float
    boot: int
    pid: int | None
    job: str | None
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # Built by hand: dataclasses.asdict deep-copies `data`, which costs more than the dump.
        return json.dumps({"boot": self.boot, "data": self.data, "job": self.job, "kind": self.kind,
                           "pid": self.pid, "seq": self.seq, "t_s": self.t_s},
                          sort_keys=True, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    """What JSON cannot take as it is: a dataclass as a dict (as asdict would make it)."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"a trace event holds {type(value).__name__}, which JSON cannot store: {value!r}")


class Trace:
    """Events in the order they happened; written to `path` as they come when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.events: list[Event] = []
        self.path = path
        self._file = path.open("w", encoding="utf-8") if path else None

    def append(self, t_s: float, boot: int, kind: str, *, pid: int | None = None,
               job: str | None = None, **data: Any) -> Event:
        event = Event(len(self.events), round(t_s, 3), boot, pid, job, kind, data)
        self.events.append(event)
        if self._file:
            self._file.write(event.to_json() + "\n")
        return event

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None

    def of_kind(self, *kinds: str) -> Iterator[Event]:
        return (event for event in self.events if event.kind in kinds)

    def calls(self, name: str) -> list[Event]:
        """Shim calls of one command, e.g. `calls("launchctl")`."""
        return [e for e in self.events if e.kind == "call" and e.data.get("name") == name]

    @staticmethod
    def load(path: Path) -> list[Event]:
        with path.open(encoding="utf-8") as lines:
            return [Event(**json.loads(line)) for line in lines if line.strip()]
