"""An in-memory ServingBackend with synthetic traffic, so release strategies are tested in milliseconds.

This is a fake on purpose: it stands in for the serving platform only in the strategy tests; the real local
gateway and the AWS backend run the same engine in their own tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_assets.rollout.analysis import ArmWindow
from ml_assets.rollout.backend import Health, ModelRef
from ml_assets.rollout.state import RolloutState


@dataclass
class Behaviour:
    error_rate: float = 0.01
    latency_scale: float = 1.0
    score_shift: float = 0.0
    healthy: bool = True


class FakeBackend:
    def __init__(self, rate_per_second: float = 50.0, seed: int = 0) -> None:
        self.rate = rate_per_second
        self.rng = np.random.default_rng(seed)
        self.models: dict[str, ModelRef] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.weights: dict[str, int] = {}
        self.mirror: tuple[str | None, int] = (None, 0)
        self.samples: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.retired: list[str] = []
        self.behaviour_for_version: dict[str, Behaviour] = {}
        self.fail_set_weights = False

    def launch(self, slot: str, model: ModelRef) -> None:
        self.models[slot] = model
        self.behaviours[slot] = self.behaviour_for_version.get(model.version, Behaviour())
        self.samples[slot] = []

    def health(self, slot: str) -> Health:
        ok = slot in self.models and self.behaviours[slot].healthy
        return Health(ok, "ok" if ok else "connection refused")

    def serving(self) -> dict[str, ModelRef]:
        return dict(self.models)

    def set_weights(self, weights: dict[str, int]) -> None:
        if self.fail_set_weights:
            raise ConnectionError("router unreachable")
        self.weights = {slot: weight for slot, weight in weights.items() if weight}

    def read_weights(self) -> dict[str, int]:
        return dict(self.weights)

    def set_mirror(self, slot: str | None, percent: int) -> None:
        self.mirror = (slot, percent)

    def retire(self, slot: str) -> None:
        self.models.pop(slot, None)
        self.weights.pop(slot, None)
        self.retired.append(slot)

    def _generate(self, slot: str, start: float, end: float, share: float) -> None:
        n = int(self.rng.poisson(self.rate * (end - start) * share))
        if n == 0 or slot not in self.models:
            return
        b = self.behaviours[slot]
        at = np.sort(self.rng.uniform(start, end, n))
        errors = self.rng.uniform(size=n) < b.error_rate
        latency = self.rng.lognormal(np.log(4.0), 0.3, n) * b.latency_scale
        scores = np.clip(self.rng.beta(0.5, 8, n) + b.score_shift, 0, 1)
        self.samples[slot].append((at, errors, latency, scores))

    def traffic(self, start: float, end: float) -> None:
        """Called by the fake clock for every slept interval."""
        for slot, weight in self.weights.items():
            self._generate(slot, start, end, weight / 100)
        mirror_slot, percent = self.mirror
        if mirror_slot and percent:
            self._generate(mirror_slot, start, end, percent / 100)

    def window(self, slot: str, since: float, until: float) -> ArmWindow:
        parts = [
            (at[m], err[m], lat[m], sc[m])
            for at, err, lat, sc in self.samples.get(slot, [])
            for m in [(at >= since) & (at < until)]
        ]
        if not parts:
            return ArmWindow(0, 0)
        errors = np.concatenate([p[1] for p in parts])
        ok = ~errors
        return ArmWindow(
            requests=len(errors),
            errors=int(errors.sum()),
            latencies_ms=np.concatenate([p[2] for p in parts])[ok],
            scores=np.concatenate([p[3] for p in parts])[ok],
        )


class MemoryStateStore:
    """Rollout states in memory, JSON round-tripped like the file store."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def load(self, environment: str) -> RolloutState | None:
        raw = self.states.get(environment)
        return RolloutState.from_dict(raw) if raw else None

    def save(self, state: RolloutState) -> None:
        self.states[state.environment] = json.loads(json.dumps(state.as_dict(), default=str))
