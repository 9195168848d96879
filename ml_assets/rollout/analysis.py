"""Canary analysis: is the new version worse than the stable one over the same window?

Three signals, each tested one-sided (only degradation fails a release):

- error rate: Fisher's exact test on error counts. Tests on means break down for sparse errors; counts do not.
- latency: Mann-Whitney U on the raw latencies, failing only when the median also exceeds the stable median by
  more than a tolerance (an effect-size floor, as Kayenta does), so a statistically significant 1 ms is no alarm.
- prediction scores: PSI on stable-quantile bins with a two-sample KS test; a large shift means the new model
  behaves very differently on the same traffic, which must stop an automatic promotion.

Every look at the data spends part of the total false-alarm budget ``alpha`` (Lan-DeMets power spending:
cumulative alpha(t) = alpha * t**rho, t = look / max_looks), so looking at every step and every extension does
not inflate false rollbacks. Too few samples is *inconclusive*, never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class ArmWindow:
    """What one variant did over an analysis window."""

    requests: int
    errors: int
    latencies_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    scores: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class AnalysisConfig:
    alpha: float = 0.01
    max_looks: int = 20
    spending_rho: float = 3.0
    min_requests: int = 200
    min_latency_samples: int = 50
    error_rate_margin: float = 0.005
    latency_tolerance: float = 0.25
    psi_fail: float = 0.25
    psi_moderate: float = 0.1
    min_score_samples: int = 100
    score_bins: int = 10


@dataclass(frozen=True)
class MetricResult:
    metric: str
    verdict: Verdict
    summary: str
    statistics: dict[str, float]


@dataclass(frozen=True)
class AnalysisResult:
    verdict: Verdict
    look: int
    alpha_spent: float
    metrics: list[MetricResult]

    @property
    def reason(self) -> str:
        relevant = [m for m in self.metrics if m.verdict == self.verdict] or self.metrics
        return "; ".join(m.summary for m in relevant)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "look": self.look,
            "alpha": self.alpha_spent,
            "reason": self.reason,
            "metrics": [
                {"metric": m.metric, "verdict": m.verdict.value, "summary": m.summary, **m.statistics}
                for m in self.metrics
            ],
        }


def look_alpha(config: AnalysisConfig, look: int) -> float:
    """The share of ``alpha`` that look number ``look`` (1-based) may spend."""
    look = min(max(look, 1), config.max_looks)

    def spent(k: int) -> float:
        return config.alpha * (k / config.max_looks) ** config.spending_rho

    return spent(look) - spent(look - 1)


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over bins at the reference's quantiles (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, reference[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    cur = np.histogram(current, edges)[0] / len(current)
    ref, cur = np.clip(ref, 1e-6, None), np.clip(cur, 1e-6, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _errors(stable: ArmWindow, canary: ArmWindow, alpha: float, config: AnalysisConfig) -> MetricResult:
    from scipy.stats import fisher_exact

    table = [[canary.errors, canary.requests - canary.errors], [stable.errors, stable.requests - stable.errors]]
    p_value = float(fisher_exact(table, alternative="greater").pvalue)
    diff = canary.error_rate - stable.error_rate
    stats = {"canary_error_rate": canary.error_rate, "stable_error_rate": stable.error_rate, "p_value": p_value}
    text = f"error rate {canary.error_rate:.2%} vs stable {stable.error_rate:.2%} (Fisher p={p_value:.2g})"
    if p_value < alpha and diff > config.error_rate_margin:
        return MetricResult("error_rate", Verdict.FAIL, f"{text}: canary fails more often", stats)
    return MetricResult("error_rate", Verdict.PASS, text, stats)


def _latency(stable: ArmWindow, canary: ArmWindow, alpha: float, config: AnalysisConfig) -> MetricResult:
    from scipy.stats import mannwhitneyu

    n = min(len(stable.latencies_ms), len(canary.latencies_ms))
    if n < config.min_latency_samples:
        return MetricResult(
            "latency", Verdict.INCONCLUSIVE, f"latency: {n} of {config.min_latency_samples} samples needed", {}
        )
    p_value = float(mannwhitneyu(canary.latencies_ms, stable.latencies_ms, alternative="greater").pvalue)
    ratio = float(np.median(canary.latencies_ms) / max(np.median(stable.latencies_ms), 1e-9))
    stats = {
        "canary_p50_ms": float(np.median(canary.latencies_ms)),
        "stable_p50_ms": float(np.median(stable.latencies_ms)),
        "median_ratio": ratio,
        "p_value": p_value,
    }
    canary_ms, stable_ms = stats["canary_p50_ms"], stats["stable_p50_ms"]
    text = f"latency p50 {canary_ms:.2f} ms vs {stable_ms:.2f} ms (x{ratio:.2f}, p={p_value:.2g})"
    if p_value < alpha and ratio > 1 + config.latency_tolerance:
        return MetricResult(
            "latency", Verdict.FAIL, f"{text}: canary slower beyond {config.latency_tolerance:.0%}", stats
        )
    return MetricResult("latency", Verdict.PASS, text, stats)


def _scores(stable: ArmWindow, canary: ArmWindow, alpha: float, config: AnalysisConfig) -> MetricResult:
    from scipy.stats import ks_2samp

    n = min(len(stable.scores), len(canary.scores))
    if n < config.min_score_samples:
        return MetricResult(
            "scores", Verdict.INCONCLUSIVE, f"scores: {n} of {config.min_score_samples} samples needed", {}
        )
    psi = population_stability_index(stable.scores, canary.scores, config.score_bins)
    ks = ks_2samp(canary.scores, stable.scores)
    stats = {"psi": psi, "ks_statistic": float(ks.statistic), "ks_p_value": float(ks.pvalue)}
    level = "significant" if psi > config.psi_fail else "moderate" if psi > config.psi_moderate else "stable"
    text = f"score PSI {psi:.3f} ({level}), KS {ks.statistic:.3f} (p={ks.pvalue:.2g})"
    if psi > config.psi_fail and ks.pvalue < alpha:
        return MetricResult("scores", Verdict.FAIL, f"{text}: predictions shifted", stats)
    return MetricResult("scores", Verdict.PASS, text, stats)


def analyze(stable: ArmWindow, canary: ArmWindow, look: int, config: AnalysisConfig) -> AnalysisResult:
    """Compare the canary with the stable variant over the same window; ``look`` counts the analyses so far."""
    alpha = look_alpha(config, look)
    short = [
        f"{name} has {arm.requests} of {config.min_requests} requests"
        for name, arm in (("canary", canary), ("stable", stable))
        if arm.requests < config.min_requests
    ]
    if short:
        result = MetricResult("samples", Verdict.INCONCLUSIVE, "not enough traffic: " + ", ".join(short), {})
        return AnalysisResult(Verdict.INCONCLUSIVE, look, alpha, [result])
    metrics = [
        _errors(stable, canary, alpha, config),
        _latency(stable, canary, alpha, config),
        _scores(stable, canary, alpha, config),
    ]
    verdicts = {m.verdict for m in metrics}
    verdict = (
        Verdict.FAIL
        if Verdict.FAIL in verdicts
        else Verdict.INCONCLUSIVE
        if Verdict.INCONCLUSIVE in verdicts
        else Verdict.PASS
    )
    return AnalysisResult(verdict, look, alpha, metrics)
