"""A simulated serving platform: two slots, a weighted router and synthetic clients, in memory (pure).

It implements the release engine's ServingBackend, so the engine runs unchanged against it with a FakeClock whose
``on_sleep`` is :meth:`SimulatedBackend.traffic`: a release of several minutes takes milliseconds. The release
benchmark uses it to measure decisions over hundreds of releases, the strategy tests to pin the engine's
behaviour. The real platforms (local gateway, ECS + ALB) run the same engine in their own tests.

Each model version behaves as its :class:`Behaviour` says: Poisson arrivals split by the weights, failures
(5xx) and rejections (4xx) at given rates, log-normal latencies, and scores from Beta(0.5, 8) (a fraud model's
skewed probabilities) shifted on the logit scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit

from ml_assets.rollout.backend import Health, ModelRef, ServingBackend
from ml_assets.rollout.evidence import Outcomes


@dataclass(frozen=True)
class Behaviour:
    error_rate: float = 0.01  # answers 5xx
    client_error_rate: float = 0.0  # answers 4xx to valid requests
    latency_scale: float = 1.0
    logit_shift: float = 0.0
    healthy: bool = True


class SimulatedBackend(ServingBackend):
    """Synthetic clients and servers on a simulated clock: a release decision without processes or network."""

    def __init__(
        self, rate_per_second: float = 100.0, seed: int = 0, latency_ms: float = 4.0, latency_sigma: float = 0.35
    ) -> None:
        self.rate, self.latency_ms, self.latency_sigma = rate_per_second, latency_ms, latency_sigma
        self.rng = np.random.default_rng(seed)
        self.url = "simulated://production"
        self.models: dict[str, ModelRef] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.behaviour_for_version: dict[str, Behaviour] = {}
        self.weights: dict[str, int] = {}
        self.mirror: tuple[str | None, int] = (None, 0)
        self.batches: dict[str, list[Outcomes]] = {}
        self.versions: dict[str, list[str]] = {}  # the version that answered each batch
        self.drained: dict[str, int] = {}  # batches per slot already handed to monitoring
        self.retired: list[str] = []

    # -- ServingBackend ----------------------------------------------------------------------------------------

    def launch(self, slot: str, model: ModelRef) -> None:
        self.models[slot] = model
        self.behaviours[slot] = self.behaviour_for_version.get(model.version, Behaviour())

    def health(self, slot: str) -> Health:
        ok = slot in self.models and self.behaviours[slot].healthy
        return Health(ok, "ok" if ok else f"{slot}: connection refused")

    def serving(self) -> dict[str, ModelRef]:
        return dict(self.models)

    def set_weights(self, weights: dict[str, int]) -> None:
        unknown = [slot for slot, weight in weights.items() if weight and slot not in self.models]
        if unknown:
            raise ValueError(f"no variant in slot {unknown[0]!r}")
        self.weights = {slot: weight for slot, weight in weights.items() if weight}

    def read_weights(self) -> dict[str, int]:
        return dict(self.weights)

    def set_mirror(self, slot: str | None, percent: int) -> None:
        self.mirror = (slot, percent)

    def retire(self, slot: str) -> None:
        self.models.pop(slot, None)
        self.weights.pop(slot, None)
        self.retired.append(slot)

    def outcomes(self, slot: str, since: float, cursor: Any = None) -> tuple[Outcomes, Any]:
        batches = self.batches.get(slot, [])
        start = cursor or 0
        return Outcomes.concat(batches[start:]).between(since), len(batches)

    def score(self, slot: str, records: list[dict]) -> tuple[int, Any]:
        return 200, {"predictions": []}

    def sample(self, drain: bool = False) -> dict[str, Any]:
        """Every answered request since the last drain (the simulator draws scores, not features)."""
        items, seen = [], 0
        for slot, batches in self.batches.items():
            for batch, version in zip(
                batches[self.drained.get(slot, 0) :], self.versions[slot][self.drained.get(slot, 0) :], strict=True
            ):
                seen += len(batch.at)
                answered = batch.status == 200
                items += [
                    {"at": float(at), "slot": slot, "version": version, "score": float(score), "features": {}}
                    for at, score in zip(batch.at[answered], batch.score[answered], strict=True)
                ]
            if drain:
                self.drained[slot] = len(batches)
        return {"items": items, "seen": seen}

    # -- synthetic clients -------------------------------------------------------------------------------------

    def _generate(self, slot: str, start: float, *, end: float, share: float) -> None:
        n = int(self.rng.poisson(self.rate * (end - start) * share))
        if n == 0 or slot not in self.models:
            return
        behaviour = self.behaviours[slot]
        draw = self.rng.uniform(size=n)
        status = np.where(
            draw < behaviour.error_rate,
            503,
            np.where(draw < behaviour.error_rate + behaviour.client_error_rate, 422, 200),
        )
        latency = self.rng.lognormal(np.log(self.latency_ms), self.latency_sigma, n) * behaviour.latency_scale
        base = np.clip(self.rng.beta(0.5, 8, n), 1e-9, 1 - 1e-9)
        scores = np.where(status == 200, expit(logit(base) + behaviour.logit_shift), np.nan)
        at = np.sort(self.rng.uniform(start, end, n))
        self.batches.setdefault(slot, []).append(Outcomes(at, status, latency, scores))
        self.versions.setdefault(slot, []).append(self.models[slot].version)

    def traffic(self, start: float, end: float) -> None:
        """The clients' requests between two clock times (a FakeClock's ``on_sleep``)."""
        for slot, weight in self.weights.items():
            self._generate(slot, start, end=end, share=weight / 100)
        mirror_slot, percent = self.mirror
        if mirror_slot and percent:
            self._generate(mirror_slot, start, end=end, share=percent / 100)


def logit_shift_for_psi(target: float, bins: int = 10, samples: int = 200_000) -> float:
    """The logit shift of the simulator's scores whose PSI (``bins`` quantile bins) is ``target``."""
    from scipy.optimize import brentq

    rng = np.random.default_rng(0)
    reference = np.clip(rng.beta(0.5, 8, samples), 1e-9, 1 - 1e-9)
    current = np.clip(rng.beta(0.5, 8, samples), 1e-9, 1 - 1e-9)
    edges = np.quantile(reference, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / samples

    def psi(shift: float) -> float:
        actual = np.histogram(expit(logit(current) + shift), edges)[0] / samples
        actual = np.clip(actual, 1e-6, None)
        return float(np.sum((actual - expected) * np.log(actual / expected)))

    return float(brentq(lambda s: psi(s) - target, 0.0, 5.0, xtol=1e-4))
