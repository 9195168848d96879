"""Drift between a reference (the training data) and current data (production traffic): pure numpy.

Per feature, Evidently's defaults: a two-sample Kolmogorov-Smirnov test (drift when p <= 0.05) while the
reference has at most 1,000 values, the normed Wasserstein distance (drift when >= 0.1 reference standard
deviations) above that — KS flags negligible shifts on large samples. PSI is reported beside either (< 0.1
stable, 0.1-0.25 moderate, > 0.25 significant). The dataset drifts when at least half of the features do.
Prediction drift compares the score distributions (PSI and KS).

Large samples are reduced to a fine histogram over their common range (O(n), no sort), so a million rows of
twenty features take well under a second; the histogram's resolution bounds the error of the distances.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

Severity = Literal["none", "moderate", "severe"]


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature, the scores and the dataset count as drifted (``monitoring.drift`` in the config holds the
    defaults: ``DriftConfig.thresholds``)."""

    ks_p_value: float
    wasserstein: float
    psi_moderate: float
    psi_severe: float
    dataset_share: float  # the dataset drifts when this share of features drifts
    small_sample: int = 1000  # reference size up to which KS decides, above it Wasserstein
    psi_bins: int = 10
    resolution: int = 8192  # histogram bins for large samples


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: Literal["ks", "wasserstein"]
    statistic: float  # the KS p-value or the normed Wasserstein distance
    threshold: float
    drifted: bool
    psi: float
    reference_mean: float
    current_mean: float


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    share_drifted: float
    dataset_drift: bool
    score_psi: float | None
    score_ks_p_value: float | None
    severity: Severity
    reasons: list[str]
    reference_rows: int
    current_rows: int
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["drifted_features"] = self.drifted_features
        return out


def _histograms(reference: np.ndarray, current: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Counts of both samples over ``bins`` equal bins of their common range, the range's start and bin width."""
    low = float(min(reference.min(), current.min()))
    high = float(max(reference.max(), current.max()))
    if high <= low:
        counts = np.zeros(bins)
        counts[0] = 1
        return counts * len(reference), counts * len(current), low, 0.0
    width = (high - low) / bins
    histograms = []
    for values in (reference, current):
        index = ((values - low) / width).astype(np.int64)
        np.minimum(index, bins - 1, out=index)
        histograms.append(np.bincount(index, minlength=bins).astype(float))
    return histograms[0], histograms[1], low, width


def _psi_from_histograms(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """PSI over ``bins`` groups cut at the reference's quantiles (read off its fine histogram)."""
    cumulative = np.cumsum(reference) / reference.sum()
    cuts = np.unique(np.searchsorted(cumulative, np.linspace(0, 1, bins + 1)[1:-1], side="right"))
    groups = np.split(np.arange(len(reference)), cuts)
    ref = np.array([reference[g].sum() for g in groups if len(g)]) / reference.sum()
    cur = np.array([current[g].sum() for g in groups if len(g)]) / current.sum()
    ref, cur = np.clip(ref, 1e-6, None), np.clip(cur, 1e-6, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def feature_drift(
    name: str, reference: np.ndarray, current: np.ndarray, *, thresholds: DriftThresholds
) -> FeatureDrift:
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if not len(reference) or not len(current):
        raise ValueError(f"{name}: no finite values to compare ({len(reference)} reference, {len(current)} current)")
    ref_hist, cur_hist, _, width = _histograms(reference, current, thresholds.resolution)
    psi = _psi_from_histograms(ref_hist, cur_hist, thresholds.psi_bins)
    means = float(reference.mean()), float(current.mean())
    if len(reference) <= thresholds.small_sample:
        from scipy.stats import ks_2samp

        p_value = float(ks_2samp(reference, current).pvalue)
        return FeatureDrift(name, "ks", p_value, thresholds.ks_p_value, p_value <= thresholds.ks_p_value, psi, *means)
    # W1 = integral of |F_ref - F_cur|; normed by the reference's standard deviation (Evidently's "normed").
    gap = np.abs(np.cumsum(ref_hist) / ref_hist.sum() - np.cumsum(cur_hist) / cur_hist.sum())
    distance = float(gap.sum() * width)
    spread = float(reference.std())
    normed = distance / spread if spread > 0 else (0.0 if distance == 0 else float("inf"))
    return FeatureDrift(
        name, "wasserstein", normed, thresholds.wasserstein, normed >= thresholds.wasserstein, psi, *means
    )


def score_drift(reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds) -> tuple[float, float]:
    """(PSI, KS p-value) between two score samples."""
    from scipy.stats import ks_2samp

    reference, current = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    ref_hist, cur_hist, _, _ = _histograms(reference, current, thresholds.resolution)
    return _psi_from_histograms(ref_hist, cur_hist, thresholds.psi_bins), float(ks_2samp(reference, current).pvalue)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    *,
    reference_scores: np.ndarray | None = None,
    current_scores: np.ndarray | None = None,
    thresholds: DriftThresholds,
    workers: int = 2,
) -> DriftReport:
    """Every feature's drift, the share that drifted, prediction drift and a severity with its reasons."""
    for label, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"drift: column(s) {missing} missing from the {label} data")
    if not len(current):
        raise ValueError("drift: no current records to compare (no production traffic since the last report)")
    with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy releases the GIL in the heavy parts
        features = list(
            pool.map(
                lambda c: feature_drift(c, reference[c].to_numpy(), current[c].to_numpy(), thresholds=thresholds),
                columns,
            )
        )
    share = sum(f.drifted for f in features) / len(features)
    score_psi = score_p = None
    if reference_scores is not None and current_scores is not None and len(current_scores):
        score_psi, score_p = score_drift(reference_scores, current_scores, thresholds)
    reasons = []
    if share >= thresholds.dataset_share:
        reasons.append(f"dataset drift: {share:.0%} of features drifted (>= {thresholds.dataset_share:.0%})")
    if score_psi is not None and score_psi > thresholds.psi_severe:
        reasons.append(f"prediction drift: score PSI {score_psi:.3f} > {thresholds.psi_severe}")
    severity: Severity = "severe" if reasons else "none"
    if severity == "none":
        if share > 0:
            reasons.append(f"{sum(f.drifted for f in features)} of {len(features)} features drifted")
        if score_psi is not None and score_psi >= thresholds.psi_moderate:
            reasons.append(f"score PSI {score_psi:.3f} >= {thresholds.psi_moderate}")
        severity = "moderate" if reasons else "none"
    return DriftReport(
        features,
        share,
        share >= thresholds.dataset_share,
        score_psi,
        score_p,
        severity,
        reasons,
        len(reference),
        len(current),
        thresholds,
    )
