"""What requests did, per variant: the raw outcomes a serving platform reports and the evidence they add up to.

A backend reports :class:`Outcomes`: for each request, when it was answered, its HTTP status (0 when no answer
came back: refused, reset or timed out), its latency and its first score. The release analysis needs only
counts, so :class:`ArmEvidence` folds outcomes into request and failure counts and two fine histograms
(latency on a log scale, scores on a logit scale): evidence accumulates by addition, across looks and steps,
and its size does not grow with traffic. A failure is anything a client would call one: a 5xx, no answer, or a
4xx (a variant that rejects requests the stable one accepts is worse, and 4xx that clients cause fall on both
variants alike, so the comparison stays fair).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NO_ANSWER = 0
# 2,048 bins each: latency from 10 us to 10 min in 0.9 % steps; scores in equal logit steps, fine at both ends.
LATENCY_EDGES_MS = np.concatenate([[0.0], np.geomspace(0.01, 600_000.0, 2047), [np.inf]])
SCORE_EDGES = np.concatenate([[0.0], 1 / (1 + np.exp(-np.linspace(-16.0, 16.0, 2047))), [1.0]])


@dataclass(frozen=True)
class Outcomes:
    """Per-request outcomes of one variant, in the order they were recorded."""

    at: np.ndarray = field(default_factory=lambda: np.empty(0))
    status: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    latency_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    score: np.ndarray = field(default_factory=lambda: np.empty(0))  # NaN where the answer carried no score

    def __len__(self) -> int:
        return len(self.at)

    @classmethod
    def from_columns(cls, raw: dict[str, Any]) -> Outcomes:
        """From JSON-style columns ``at``, ``status``, ``latency_ms`` and ``score`` (None for no score)."""
        scores = [np.nan if value is None else value for value in raw.get("score", [])]
        return cls(
            at=np.asarray(raw.get("at", []), dtype=float),
            status=np.asarray(raw.get("status", []), dtype=int),
            latency_ms=np.asarray(raw.get("latency_ms", []), dtype=float),
            score=np.asarray(scores, dtype=float),
        )

    def between(self, since: float, until: float = np.inf) -> Outcomes:
        keep = (self.at >= since) & (self.at < until)
        return Outcomes(self.at[keep], self.status[keep], self.latency_ms[keep], self.score[keep])

    @staticmethod
    def concat(parts: list[Outcomes]) -> Outcomes:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Outcomes()
        return Outcomes(
            np.concatenate([p.at for p in parts]),
            np.concatenate([p.status for p in parts]),
            np.concatenate([p.latency_ms for p in parts]),
            np.concatenate([p.score for p in parts]),
        )


@dataclass
class ArmEvidence:
    """What one variant did over a scope (a step, or every live step of a release), as counts."""

    requests: int = 0
    failures: int = 0
    server_errors: int = 0
    client_errors: int = 0
    no_answer: int = 0
    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES_MS) - 1, dtype=np.int64))
    score_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(SCORE_EDGES) - 1, dtype=np.int64))

    @classmethod
    def of(cls, outcomes: Outcomes) -> ArmEvidence:
        evidence = cls()
        evidence.add(outcomes)
        return evidence

    def add(self, outcomes: Outcomes) -> None:
        status = outcomes.status
        ok = (status >= 200) & (status < 300)
        self.requests += len(status)
        self.failures += int((~ok).sum())
        self.server_errors += int((status >= 500).sum())
        self.client_errors += int(((status >= 400) & (status < 500)).sum())
        self.no_answer += int((status == NO_ANSWER).sum())
        self.latency_counts += np.histogram(outcomes.latency_ms[ok], LATENCY_EDGES_MS)[0]
        scores = outcomes.score[ok]
        self.score_counts += np.histogram(scores[~np.isnan(scores)], SCORE_EDGES)[0]

    @property
    def answered(self) -> int:
        return int(self.latency_counts.sum())

    @property
    def scored(self) -> int:
        return int(self.score_counts.sum())

    @property
    def failure_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def summary(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "server_errors": self.server_errors,
            "client_errors": self.client_errors,
            "no_answer": self.no_answer,
        }
