"""Per-variant traffic records kept by the gateway: bounded, queryable by time window (pure, no I/O)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class VariantTraffic:
    """The most recent requests of one variant: time, latency, error flag and score, in a ring buffer."""

    capacity: int = 100_000
    times: deque = field(init=False)
    latencies_ms: deque = field(init=False)
    errors: deque = field(init=False)
    scores: deque = field(init=False)
    total: int = 0
    total_errors: int = 0

    def __post_init__(self) -> None:
        self.times, self.latencies_ms = deque(maxlen=self.capacity), deque(maxlen=self.capacity)
        self.errors, self.scores = deque(maxlen=self.capacity), deque(maxlen=self.capacity)

    def add(self, at: float, latency_ms: float, error: bool, score: float | None) -> None:
        self.times.append(at)
        self.latencies_ms.append(latency_ms)
        self.errors.append(error)
        self.scores.append(score)
        self.total += 1
        self.total_errors += error

    def window(self, since: float, until: float) -> dict[str, Any]:
        rows = [
            (latency, error, score)
            for at, latency, error, score in zip(self.times, self.latencies_ms, self.errors, self.scores, strict=True)
            if since <= at < until
        ]
        ok = [(latency, score) for latency, error, score in rows if not error]
        return {
            "requests": len(rows),
            "errors": sum(1 for _, error, _ in rows if error),
            "latencies_ms": [latency for latency, _ in ok],
            "scores": [score for _, score in ok if score is not None],
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
