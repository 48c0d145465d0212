"""launchd's override database: which labels are disabled, whatever their plists say (§3.9).

`/var/db/com.apple.xpc.launchd/disabled.plist` maps a label to true (disabled) or false. It
persists across boots and outranks a plist's own `Disabled` key; `load -w`, `unload -w`,
`enable` and `disable` write it. A database launchd cannot read is taken as empty, as if no
label had an override, and the trace says so (`override-unreadable`): what launchd really does
with a corrupt file is not documented.
"""
from __future__ import annotations

import hashlib
import os
import plistlib

from .kernel import Kernel

OVERRIDES_PATH = "/private/var/db/com.apple.xpc.launchd/disabled.plist"


class OverrideDatabase:
    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._reported: str | None = None  # the digest of the last unreadable content reported

    def table(self) -> dict[str, bool]:
        """label -> disabled, as stored on disk."""
        host = self._kernel.disk.host_path(OVERRIDES_PATH)
        try:
            raw = host.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            return self._unreadable(b"", f"cannot be read: {error.strerror}")
        try:
            data = plistlib.loads(raw)
        except (plistlib.InvalidFileException, ValueError) as error:
            return self._unreadable(raw, f"is not a property list ({error})")
        if not isinstance(data, dict):
            return self._unreadable(raw, f"holds a {type(data).__name__}, not a dictionary of labels")
        return {k: bool(v) for k, v in data.items()}

    def _unreadable(self, raw: bytes, reason: str) -> dict[str, bool]:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != self._reported:
            self._reported = digest
            self._kernel.event("override-unreadable", path=OVERRIDES_PATH, reason=reason, size=len(raw))
        return {}

    def disabled(self, label: str, default: bool) -> bool:
        return self.table().get(label, default)

    def set_disabled(self, label: str, disabled: bool) -> None:
        table = self.table()
        table[label] = disabled
        host = self._kernel.disk.host_path(OVERRIDES_PATH)
        host.parent.mkdir(parents=True, exist_ok=True)
        partial = host.with_name(host.name + ".new")
        partial.write_bytes(plistlib.dumps(dict(sorted(table.items()))))
        os.replace(partial, host)
        self._kernel.event("override", label=label, disabled=disabled)
