"""Per-variant traffic records kept by the gateway: bounded, queryable by time window (pure, no I/O)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class VariantTraffic:
    """The most recent requests of one variant, numbered in order: time, status, latency and score.

    A reader passes the last number it has seen and gets only newer records, so a release accumulates every
    request exactly once however often it looks; the ring buffer bounds memory (at 100 requests/s the default
    keeps about a quarter of an hour). Status 0 means no answer came back (refused, reset, timed out).
    """

    capacity: int = 100_000
    records: deque = field(init=False)
    total: int = 0
    total_failures: int = 0

    def __post_init__(self) -> None:
        self.records = deque(maxlen=self.capacity)

    def add(self, at: float, status: int, latency_ms: float, score: float | None) -> None:
        self.total += 1
        self.total_failures += not 200 <= status < 300
        self.records.append((self.total, at, status, latency_ms, score))

    def after(self, seq: int, since: float) -> dict[str, Any]:
        """Records numbered above ``seq`` and stamped at or after ``since``, as columns, with the last number."""
        rows = [row for row in self.records if row[0] > seq and row[1] >= since] if self.total > seq else []
        return {
            "last": self.total,
            "at": [row[1] for row in rows],
            "status": [row[2] for row in rows],
            "latency_ms": [row[3] for row in rows],
            "score": [row[4] for row in rows],
        }


@dataclass
class ScoredSample:
    """A uniform reservoir sample of scored requests (features, score, version) for monitoring."""

    capacity: int = 5_000
    seed: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reserve(self) -> int | None:
        """Count one more record; the index it should take in the sample, or None if it is not kept.

        Deciding before the record is built keeps the cost of unsampled requests (almost all, once the reservoir
        is full) to one random draw.
        """
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append({})
            return len(self.items) - 1
        index = self._rng.randrange(self.seen)
        return index if index < self.capacity else None
