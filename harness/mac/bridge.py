"""The channel between the simulated Mac's processes and the controller.

Shims, the bash step hook and the boot's init speak in frames: a little-endian u32 byte count,
then fields, each a u32 length and its bytes. This module encodes and decodes frames and
builds the one native program (`native/macsim.c`) that the Mac runs under many names.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from ..errors import EnvironmentFailure

NATIVE_SOURCE = Path(__file__).with_name("native") / "macsim.c"


class NativeBuildError(EnvironmentFailure):
    """The shim client could not be compiled on this machine."""


def encode(*fields: str | bytes | int) -> bytes:
    """One frame holding `fields` (str as UTF-8, int as decimal text)."""
    body = bytearray()
    for value in fields:
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        body += struct.pack("<I", len(value)) + value
    return struct.pack("<I", len(body)) + bytes(body)


def decode_body(body: bytes) -> list[bytes]:
    """The fields of one frame's body (the part after the byte count)."""
    fields, offset = [], 0
    while offset + 4 <= len(body):
        (length,) = struct.unpack_from("<I", body, offset)
        offset += 4
        fields.append(body[offset:offset + length])
        offset += length
    return fields


class FrameReader:
    """Accumulates bytes from a stream socket and yields complete frames' fields."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[list[bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 4:
            (length,) = struct.unpack_from("<I", self._buffer, 0)
            if len(self._buffer) < 4 + length:
                break
            frames.append(decode_body(bytes(self._buffer[4:4 + length])))
            del self._buffer[:4 + length]
        return frames

    def take_rest(self) -> bytes:
        """What arrived after the last complete frame (a stream that switches to lines)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


def _compiler() -> list[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return [name]
    try:
        import ziglang  # noqa: F401  (only its presence matters)
        return [sys.executable, "-m", "ziglang", "cc"]
    except ImportError:
        raise NativeBuildError(
            "macsim needs a C compiler to build its shim client (harness/native/macsim.c), "
            "and found none: no $CC, cc, gcc or clang on PATH, and no `ziglang` package. "
            "Install one (`apt-get install gcc`, or `pip install ziglang`) and run again."
        ) from None


def cache_dir() -> Path:
    """Where macsim keeps what it builds once (the shim client, the command directories)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "macsim"


def native_program(cache: Path | None = None) -> Path:
    """The compiled client, built once per source version into a cache directory."""
    source = NATIVE_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    directory = cache or cache_dir()
    target = directory / f"macsim-{digest}"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    command = _compiler() + ["-O2", "-static", "-o", str(partial), str(NATIVE_SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # A static libc is not always installed; a dynamic build works as well because the
        # sandbox shows the host's /usr, where the C library lives.
        command.remove("-static")
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise NativeBuildError(f"compiling {NATIVE_SOURCE} failed:\n{result.stderr}")
    os.replace(partial, target)
    return target
