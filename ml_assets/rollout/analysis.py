"""Canary analysis: evidence that a new version is not worse than the stable one, or that it is.

"No significant difference yet" is not evidence of safety. Every look asks, per signal, for an anytime-valid
confidence sequence (``ml_assets.rollout.sequential``) on how much worse the canary is, and compares it with a
margin the user states in the config (non-inferiority, as in the sequential canary analysis Netflix published:
Lindon, Sanden, Shirikian, "Rapid Regression Detection in Software Deployments through Sequential Testing",
KDD 2022):

- PASS when the upper bound of the degradation is below the margin (shown not worse than the margin),
- FAIL when its lower bound is above the margin (shown worse beyond the margin),
- INCONCLUSIVE otherwise: the engine keeps baking, up to the step's time budget, then rolls back.

Signals and their bounds:

- failure rate, in points: every answer a client would call a failure (see ``evidence``). Each arm's rate has a
  beta-binomial confidence sequence; the degradation is at most canary-upper minus stable-lower. Exact for
  counts, so sparse errors are handled without a normal approximation.
- latency, as a ratio of a quantile (the median by default): each arm's quantile has a confidence sequence from
  the binomial count of observations below it; the ratio is at most canary-upper / stable-lower. Latency depends
  on load as much as on the version (``benchmarks/latency_under_load.py``: on a 2-core machine one model served
  its median request in 3.3 ms at 5 % of the traffic against 0.5 ms at 95 %, and alike at 50/50 %), so it is
  judged only where the canary carries at least the stable's load (canary steps from 50 %, a full shadow mirror,
  blue-green after the switch) and reported elsewhere.
- prediction scores, as the Kolmogorov-Smirnov distance between the two score distributions: each arm's
  distribution function lies within a time-uniform DKW band, so the distance is within the sum of both radii of
  what is observed. (PSI has no such bound; it is reported beside it. For a location shift KS 0.2 is about
  PSI 0.25 and KS 0.13 about PSI 0.1.)

One ``alpha`` for the whole release, split explicitly (:func:`split_alpha`): half to the failure rate, a quarter
to latency, a quarter to scores, and within a signal evenly over its independent sequences and over the two
arms. Whatever the truth, a wrong verdict (a PASS for a canary worse than a margin, or a FAIL for one within
every margin) needs at least one sequence to miss, which happens with probability at most ``alpha``. What alpha
does not bound is power: a good canary with too little traffic stays INCONCLUSIVE and its release rolls back at
the budget (``planning`` says how much traffic a decision needs; the benchmark measures how often that happens).

The sequences assume that, within a scope, each arm's requests are exchangeable: both variants see the same
traffic mix at each moment, and a shift of that mix during a release (or, for blue-green, between the baseline
window and the switch) is not modelled. Netflix's count-data test conditions on which arm each event came from and
so tolerates a shared drift; the per-arm sequences here trade that for margins in points a user can read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from ml_assets.rollout.evidence import LATENCY_EDGES_MS, ArmEvidence
from ml_assets.rollout.sequential import bernoulli_bounds, binomial_count_bounds, dkw_radius

ALPHA_SHARES = {"failure_rate": 0.5, "latency": 0.25, "scores": 0.25}


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class AnalysisMargins:
    """The margins a canary must be shown to stay within, and the release's total error budget (the config's
    ``deployment.analysis`` holds the defaults)."""

    alpha: float
    error_rate_margin: float  # absolute: 0.015 = the canary fails at most 1.5 points more often
    latency_ratio_margin: float  # the canary's latency quantile at most this ratio of the stable one's
    latency_quantile: float
    score_ks_margin: float  # KS distance between the score distributions

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 < self.error_rate_margin < 1 or not 0 < self.score_ks_margin < 1:
            raise ValueError("error_rate_margin and score_ks_margin must be in (0, 1)")
        if self.latency_ratio_margin <= 1 or not 0 < self.latency_quantile < 1:
            raise ValueError("latency_ratio_margin must exceed 1 and latency_quantile be in (0, 1)")


@dataclass(frozen=True)
class MetricAlphas:
    """The share of alpha each confidence sequence of one signal may spend (each covers both arms)."""

    failure_rate: float
    latency: float
    scores: float


def split_alpha(alpha: float, accumulated_scopes: int, step_scopes: int) -> MetricAlphas:
    """Split the release's ``alpha`` across signals, then across each signal's independent sequences.

    Failure rate and scores accumulate over every live step (one sequence per scope: the live steps, plus a
    shadow phase if any); latency restarts at each step where it is judged, because a step's weight changes the
    load on the canary (one sequence per judged step).
    """
    return MetricAlphas(
        failure_rate=alpha * ALPHA_SHARES["failure_rate"] / max(accumulated_scopes, 1),
        latency=alpha * ALPHA_SHARES["latency"] / max(step_scopes, 1),
        scores=alpha * ALPHA_SHARES["scores"] / max(accumulated_scopes, 1),
    )


@dataclass(frozen=True)
class MetricResult:
    metric: str
    verdict: Verdict
    summary: str
    statistics: dict[str, float]
    judged: bool = True  # False: reported only, the look's verdict does not depend on it


@dataclass(frozen=True)
class AnalysisResult:
    verdict: Verdict
    metrics: list[MetricResult]

    @property
    def reason(self) -> str:
        relevant = [m for m in self.metrics if m.judged and m.verdict == self.verdict] or self.metrics
        return "; ".join(m.summary for m in relevant)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "metrics": [
                {
                    "metric": m.metric,
                    "verdict": m.verdict.value,
                    "judged": m.judged,
                    "summary": m.summary,
                    **m.statistics,
                }
                for m in self.metrics
            ],
        }


@dataclass(frozen=True)
class Comparison:
    """The evidence of one look: both arms over the accumulated scope, and over the current step."""

    stable: ArmEvidence
    canary: ArmEvidence
    stable_step: ArmEvidence
    canary_step: ArmEvidence


def three_way(lower: float, upper: float, margin: float) -> Verdict:
    """FAIL when shown worse beyond the margin, PASS when shown within it, INCONCLUSIVE otherwise."""
    if lower > margin:
        return Verdict.FAIL
    if upper < margin:
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def _said(text: str, verdict: Verdict, worse: str) -> str:
    """A metric's summary with what its verdict means."""
    meaning = {
        Verdict.FAIL: f"{worse}, beyond the margin",
        Verdict.PASS: "within the margin",
        Verdict.INCONCLUSIVE: "not yet shown either way",
    }
    return f"{text}: {meaning[verdict]}"


def _finite(value: float) -> float:
    return value if math.isfinite(value) else float("nan")


def failure_rate(stable: ArmEvidence, canary: ArmEvidence, *, alpha: float, margin: float) -> MetricResult:
    canary_low, canary_high = bernoulli_bounds(canary.failures, canary.requests, alpha / 2)
    stable_low, stable_high = bernoulli_bounds(stable.failures, stable.requests, alpha / 2)
    lower, upper = canary_low - stable_high, canary_high - stable_low
    verdict = three_way(lower, upper, margin)
    stats = {
        "canary_requests": canary.requests,
        "stable_requests": stable.requests,
        "canary_failure_rate": canary.failure_rate,
        "stable_failure_rate": stable.failure_rate,
        "canary_server_errors": canary.server_errors,
        "canary_client_errors": canary.client_errors,
        "canary_no_answer": canary.no_answer,
        "degradation_lower": lower,
        "degradation_upper": upper,
        "margin": margin,
        "alpha": alpha,
    }
    text = (
        f"failures {canary.failure_rate:.2%} of {canary.requests} vs stable {stable.failure_rate:.2%} of "
        f"{stable.requests}: {100 * lower:+.2f} to {100 * upper:+.2f} points (margin {100 * margin:+.2f})"
    )
    return MetricResult("failure_rate", verdict, _said(text, verdict, "canary fails more often"), stats)


def quantile_bounds(counts: np.ndarray, edges: np.ndarray, q: float, *, alpha: float) -> tuple[float, float, float]:
    """(lower, estimate, upper) of the ``q`` quantile of a histogram's distribution; bins widen the bounds."""
    total = int(counts.sum())
    if total == 0:
        return 0.0, float("nan"), math.inf
    lowest, highest = binomial_count_bounds(total, q, alpha)
    cumulative = np.cumsum(counts)

    def bin_of(rank: int) -> int:  # the bin holding the rank-th smallest observation (1-based)
        return int(np.searchsorted(cumulative, rank, side="left"))

    upper_rank, lower_rank = math.floor(highest) + 1, math.ceil(lowest)
    upper = float(edges[bin_of(upper_rank) + 1]) if upper_rank <= total else math.inf
    lower = float(edges[bin_of(lower_rank)]) if lower_rank >= 1 else float(edges[0])
    middle = bin_of(max(1, math.ceil(q * total)))
    estimate = float(math.sqrt(max(edges[middle], 1e-9) * edges[middle + 1]))
    return lower, estimate, upper


def latency(
    stable: ArmEvidence,
    canary: ArmEvidence,
    *,
    alpha: float,
    margin: float,
    quantile: float = 0.5,
    judged: bool = True,
) -> MetricResult:
    c_low, c_est, c_high = quantile_bounds(canary.latency_counts, LATENCY_EDGES_MS, quantile, alpha=alpha / 2)
    s_low, s_est, s_high = quantile_bounds(stable.latency_counts, LATENCY_EDGES_MS, quantile, alpha=alpha / 2)
    upper = c_high / s_low if s_low > 0 else math.inf
    lower = c_low / s_high if math.isfinite(s_high) else 0.0
    verdict = three_way(lower, upper, margin)
    name = f"p{100 * quantile:g}"
    stats = {
        "canary_answered": canary.answered,
        "stable_answered": stable.answered,
        f"canary_{name}_ms": _finite(c_est),
        f"stable_{name}_ms": _finite(s_est),
        "ratio_lower": lower,
        "ratio_upper": _finite(upper),
        "margin": margin,
        "alpha": alpha,
    }
    shown = f"x{upper:.2f}" if math.isfinite(upper) else "unbounded"
    text = (
        f"latency {name} {c_est:.2f} ms ({canary.answered}) vs {s_est:.2f} ms ({stable.answered}): "
        f"ratio x{lower:.2f} to {shown} (margin x{margin:.2f})"
    )
    if not judged:
        text += ": reported only (judged where the canary carries at least the stable's load)"
        return MetricResult("latency", verdict, text, stats, judged=False)
    return MetricResult("latency", verdict, _said(text, verdict, "canary slower"), stats)


def ks_bounds(stable_counts: np.ndarray, canary_counts: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """(lower, observed, upper) of the Kolmogorov-Smirnov distance between two histograms' distributions."""
    n_stable, n_canary = int(stable_counts.sum()), int(canary_counts.sum())
    if not n_stable or not n_canary:
        return 0.0, float("nan"), 1.0
    stable_cdf = np.concatenate([[0.0], np.cumsum(stable_counts) / n_stable])
    canary_cdf = np.concatenate([[0.0], np.cumsum(canary_counts) / n_canary])
    observed = float(np.max(np.abs(canary_cdf - stable_cdf)))  # at the bin edges: a lower estimate
    within = float(max(np.max(canary_cdf[1:] - stable_cdf[:-1]), np.max(stable_cdf[1:] - canary_cdf[:-1])))
    radius = dkw_radius(n_stable, alpha / 2) + dkw_radius(n_canary, alpha / 2)
    return max(0.0, observed - radius), observed, min(1.0, within + radius)


def psi_of_counts(stable_counts: np.ndarray, canary_counts: np.ndarray, bins: int = 10) -> float:
    """PSI over ``bins`` groups of histogram bins at the stable distribution's quantiles (for the report)."""
    n_stable, n_canary = stable_counts.sum(), canary_counts.sum()
    if not n_stable or not n_canary:
        return float("nan")
    cumulative = np.cumsum(stable_counts) / n_stable
    cuts = np.unique(np.searchsorted(cumulative, np.linspace(0, 1, bins + 1)[1:-1], side="left"))
    groups = np.split(np.arange(len(stable_counts)), cuts + 1)
    ref = np.array([stable_counts[g].sum() for g in groups]) / n_stable
    cur = np.array([canary_counts[g].sum() for g in groups]) / n_canary
    ref, cur = np.clip(ref, 1e-6, None), np.clip(cur, 1e-6, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def scores(stable: ArmEvidence, canary: ArmEvidence, *, alpha: float, margin: float) -> MetricResult:
    lower, observed, upper = ks_bounds(stable.score_counts, canary.score_counts, alpha)
    verdict = three_way(lower, upper, margin)
    psi = psi_of_counts(stable.score_counts, canary.score_counts)
    stats = {
        "canary_scored": canary.scored,
        "stable_scored": stable.scored,
        "ks": _finite(observed),
        "ks_lower": lower,
        "ks_upper": upper,
        "psi": _finite(psi),
        "margin": margin,
        "alpha": alpha,
    }
    text = (
        f"scores KS {observed:.3f} ({canary.scored} vs {stable.scored}), {lower:.3f} to {upper:.3f} "
        f"(margin {margin:.3f}), PSI {psi:.3f}"
    )
    return MetricResult("scores", verdict, _said(text, verdict, "predictions shifted"), stats)


def analyze(
    comparison: Comparison, config: AnalysisMargins, *, alphas: MetricAlphas, judge_latency: bool = True
) -> AnalysisResult:
    """One look: FAIL if any judged signal is shown worse beyond its margin, PASS only if every one is shown
    within. ``judge_latency`` False (a canary lighter than the stable) reports latency without judging it."""
    metrics = [
        failure_rate(comparison.stable, comparison.canary, alpha=alphas.failure_rate, margin=config.error_rate_margin),
        latency(
            comparison.stable_step,
            comparison.canary_step,
            alpha=alphas.latency,
            margin=config.latency_ratio_margin,
            quantile=config.latency_quantile,
            judged=judge_latency,
        ),
        scores(comparison.stable, comparison.canary, alpha=alphas.scores, margin=config.score_ks_margin),
    ]
    verdicts = {m.verdict for m in metrics if m.judged}
    if Verdict.FAIL in verdicts:
        verdict = Verdict.FAIL
    elif verdicts == {Verdict.PASS}:
        verdict = Verdict.PASS
    else:
        verdict = Verdict.INCONCLUSIVE
    return AnalysisResult(verdict, metrics)
