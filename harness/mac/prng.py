"""Seeded randomness: one seed for a run, one named child stream per purpose.

A child stream depends only on the seed and its name, so adding a new consumer of randomness
never changes the draws an existing one sees (the trace of old scenarios stays the same).
"""
from __future__ import annotations

import hashlib
import random


class Prng:
    """The run's root of randomness."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._children: dict[str, random.Random] = {}

    def child(self, name: str) -> random.Random:
        """The stream called `name`; the same object on every call for one Prng."""
        stream = self._children.get(name)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:8], "big"))
            self._children[name] = stream
        return stream
