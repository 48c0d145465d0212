"""The value checks of the scenario loader: what a value must be, what it becomes, and how a
value that is not is described in an error ("found 600 (an integer)").

A `Check` pairs what is expected (in words, as the error says it), an example (in the fix) and a
conversion that returns the value to keep or raises `Bad`. `loader.py` applies
them key by key; the schema they fill is in `schema.py`.
"""
from __future__ import annotations

import datetime
import difflib
import json
import math
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

# The disk's own rule for which macOS paths are the host's read-only trees, so that the two
# cannot drift apart.
from ..mac.paths import in_host_tree


# -- describing what was found ---------------------------------------------------------------

def render(value: Any, limit: int = 60) -> str:
    """`value` written as TOML would write it, cut to about `limit` characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    elif isinstance(value, list):
        text = "[" + ", ".join(render(item, limit) for item in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{quoted_key(k)} = {render(v, limit)}" for k, v in value.items()) + " }"
    elif isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def toml_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a float"),
                       (str, "a string"), (list, "an array"), (dict, "a table"),
                       (datetime.datetime, "a date-time"), (datetime.date, "a date"),
                       (datetime.time, "a time")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def describe(value: Any) -> str:
    return "a table" if isinstance(value, dict) else f"{render(value)} ({toml_type(value)})"


def quoted_key(name: str) -> str:
    """A key as it appears in a key path: bare when TOML allows it, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def key_path(path: str, key: str) -> str:
    return f"{path}.{quoted_key(key)}" if path else quoted_key(key)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML's true is not 1


# -- checks: what a value must be, and what it becomes ---------------------------------------

class Bad(Exception):
    """Raised by a check; anything left None is filled in from the check and the value."""

    def __init__(self, *, expected: str | None = None, found: str | None = None,
                 fix: str | None = None, index: int | None = None) -> None:
        super().__init__(expected)
        self.expected, self.found, self.fix, self.index = expected, found, fix, index


@dataclass(frozen=True)
class Check:
    expected: str
    example: str  # a TOML value, shown in the fix
    convert: Callable[[Any], Any]  # returns what to keep, or raises Bad


def integer(low: int | None = None, high: int | None = None, example: str = "1") -> Check:
    expected = ("an integer" if low is None else f"an integer >= {low}" if high is None
                else f"an integer from {low} to {high}")

    def convert(value: Any) -> int:
        if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
            raise Bad()
        return value
    return Check(expected, example, convert)


def seconds(*, positive: bool = False, example: str = "600") -> Check:
    expected = f"a number of seconds {'> 0' if positive else '>= 0'}"

    def convert(value: Any) -> float:
        if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
                or value < 0 or (positive and value == 0)):
            raise Bad()
        return float(value)
    return Check(expected, example, convert)


def boolean(example: str = "true") -> Check:
    def convert(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Bad()
        return value
    return Check("a boolean (true or false, without quotes)", example, convert)


def text(expected: str = "a non-empty one-line string", example: str = '"text"',
          pattern: str | None = None, *, empty: bool = False, multiline: bool = False) -> Check:
    def convert(value: Any) -> str:
        if (not isinstance(value, str) or (not value and not empty)
                or (not multiline and "\n" in value) or (pattern and not re.fullmatch(pattern, value))):
            raise Bad()
        return value
    return Check(expected, example, convert)


def choice(values: Iterable[Any], example: str) -> Check:
    allowed = list(values)
    plain = [v.value if isinstance(v, Enum) else v for v in allowed]
    expected = "one of " + ", ".join(render(v) for v in plain)

    def convert(value: Any) -> Any:
        if type(value) in (str, int) and value in plain:
            return allowed[plain.index(value)]
        near = closest(value, [str(v) for v in plain]) if isinstance(value, str) else []
        raise Bad(fix=f"did you mean {render(near[0])}?" if near else None)
    return Check(expected, example, convert)


def closest(word: str, choices: list[str]) -> list[str]:
    """The choice `word` most likely means: a near spelling, else the one it abbreviates."""
    return difflib.get_close_matches(word, choices, n=1) or [c for c in choices if word and c.startswith(word)][:1]


def strings(item: Check, expected: str, example: str) -> Check:
    def convert(value: Any) -> tuple:
        if not isinstance(value, list):
            raise Bad()
        for index, entry in enumerate(value):
            try:
                item.convert(entry)
            except Bad as bad:
                raise Bad(expected=bad.expected or item.expected, found=describe(entry), fix=bad.fix,
                           index=index) from None
        return tuple(value)
    return Check(expected, example, convert)


def mac_path(*, on_disk: bool = True, example: str = '"/etc/puppet_role"') -> Check:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or not value.startswith("/"):
            fix = f'start it with "/", e.g. "/{value}"' if isinstance(value, str) and value else None
            raise Bad(fix=fix)
        normal = posixpath.normpath(value)
        if normal != value or value.startswith("//"):
            raise Bad(expected="a normalized absolute macOS path (no //, /./, /../ or trailing /)",
                       fix=f"write it as {render('/' + normal.lstrip('/'))}")
        if on_disk and in_host_tree(value.strip("/").split("/")):
            raise Bad(expected="a path on the Mac's disk (not /bin, /sbin, /dev, /proc, /lib* or "
                                "/usr except /usr/local: the sandbox takes those from the host)",
                       fix="use a path under /usr/local, /opt, /Library, /Users or /private")
        return value
    return Check("an absolute macOS path (starting with /)", example, convert)


def mode() -> Check:
    def convert(value: Any) -> int:
        if not isinstance(value, str) or not re.fullmatch(r"[0-7]{3,4}", value):
            fix = ('quote it: TOML reads 644 as a decimal number and 0o644 as 420, so write '
                   'mode = "0644"') if is_int(value) else None
            raise Bad(fix=fix)
        return int(value, 8)
    return Check('a string of 3 or 4 octal digits, like "0644"', '"0644"', convert)


VERSION = text('a macOS version "MAJOR.MINOR" or "MAJOR.MINOR.PATCH"', '"15.3.1"', r"\d+\.\d+(\.\d+)?")
BUILD = text('a macOS build version like "24D70"', '"24D70"', r"\d{2}[A-Z]\d{1,4}[a-z]?")
KERNEL = text('a Darwin release "MAJOR.MINOR.PATCH"', '"24.3.0"', r"\d+\.\d+\.\d+")
ONE_LINE = text()
LABEL = text("a launchd label (non-empty, no whitespace)", '"com.mozilla.ronin-puppet-bootstrap"', r"\S+")
ARGS = strings(ONE_LINE, "an array of one-line strings", '["--verbose"]')


