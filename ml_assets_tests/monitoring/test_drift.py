"""Drift statistics: Evidently's methods and thresholds, exact distances, verdicts and severities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from ml_assets.config import DriftConfig
from ml_assets.monitoring.drift import drift_report, feature_drift

pytestmark = pytest.mark.unit

RNG = np.random.default_rng(7)
THRESHOLDS = DriftConfig().thresholds()  # the shipped defaults


def test_large_samples_use_the_normed_wasserstein_distance_exactly() -> None:
    reference, current = RNG.normal(0, 2, 50_000), RNG.normal(0.5, 2, 40_000)
    result = feature_drift("x", reference, current, thresholds=THRESHOLDS)
    exact = wasserstein_distance(reference, current) / reference.std()
    assert result.method == "wasserstein" and result.statistic == pytest.approx(exact, rel=2e-3)
    assert result.drifted and result.threshold == 0.1  # a quarter of a standard deviation


def test_a_negligible_shift_on_a_large_sample_is_not_drift() -> None:
    """KS would flag it (p far below 0.05); the normed Wasserstein distance does not, as in Evidently."""
    reference, current = RNG.normal(0, 1, 200_000), RNG.normal(0.03, 1, 200_000)
    assert ks_2samp(reference, current).pvalue < 1e-6
    assert not feature_drift("x", reference, current, thresholds=THRESHOLDS).drifted


def test_small_samples_use_the_ks_test() -> None:
    reference = RNG.normal(0, 1, 500)
    same, shifted = RNG.normal(0, 1, 500), RNG.normal(1, 1, 500)
    assert feature_drift("x", reference, same, thresholds=THRESHOLDS).method == "ks"
    assert not feature_drift("x", reference, same, thresholds=THRESHOLDS).drifted
    result = feature_drift("x", reference, shifted, thresholds=THRESHOLDS)
    assert result.drifted and result.statistic == pytest.approx(ks_2samp(reference, shifted).pvalue)


def test_constant_and_binary_features() -> None:
    assert not feature_drift("flag", np.zeros(5000), np.zeros(5000), thresholds=THRESHOLDS).drifted
    weekend = feature_drift("weekend", RNG.random(10_000) < 0.28, RNG.random(10_000) < 0.9, thresholds=THRESHOLDS)
    assert weekend.drifted and weekend.psi > 0.25


def frames(shifted: int, columns: int = 6, n: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    names = [f"f{i}" for i in range(columns)]
    reference = pd.DataFrame({c: RNG.normal(0, 1, n) for c in names})
    current = pd.DataFrame({c: RNG.normal(1.0 if i < shifted else 0.0, 1, n) for i, c in enumerate(names)})
    return reference, current


def report_for(shifted: int, reference_scores=None, current_scores=None):
    """The drift report of frames with ``shifted`` drifted features (scores optional), shipped thresholds."""
    reference, current = frames(shifted=shifted)
    return drift_report(
        reference,
        current,
        list(reference),
        reference_scores=reference_scores,
        current_scores=current_scores,
        thresholds=THRESHOLDS,
    )


def test_severity_follows_the_share_of_drifted_features_and_the_scores() -> None:
    scores = RNG.beta(1, 30, 20_000)
    calm = report_for(0, scores, RNG.beta(1, 30, 20_000))
    assert calm.severity == "none" and calm.reasons == [] and calm.share_drifted == 0

    some = report_for(2, scores, RNG.beta(1, 30, 20_000))
    assert some.severity == "moderate" and some.drifted_features == ["f0", "f1"]
    assert some.reasons == ["2 of 6 features drifted"]

    half = report_for(3)
    assert half.severity == "severe" and half.dataset_drift and "dataset drift: 50% of features" in half.reasons[0]

    shifted_scores = report_for(0, scores, np.clip(scores * 4, 0, 1))
    assert shifted_scores.severity == "severe" and "prediction drift: score PSI" in shifted_scores.reasons[0]


def test_thresholds_come_from_the_config() -> None:
    reference, current = frames(shifted=1)
    strict = drift_report(reference, current, list(reference), thresholds=replace(THRESHOLDS, dataset_share=0.1))
    assert strict.severity == "severe"


def test_bad_inputs_are_named() -> None:
    reference, current = frames(shifted=0)
    with pytest.raises(ValueError, match=r"column\(s\) \['missing'\] missing from the reference data"):
        drift_report(reference, current, ["f0", "missing"], thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="no current records"):
        drift_report(reference, current.iloc[0:0], ["f0"], thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="x: no finite values"):
        feature_drift("x", np.array([np.nan, np.inf]), np.array([1.0]), thresholds=THRESHOLDS)


@pytest.mark.unit
def test_the_report_draws_each_distribution_as_inline_svg_whatever_the_values() -> None:
    import xml.etree.ElementTree as ET

    from ml_assets.monitoring.report import _plot

    rng = np.random.default_rng(0)
    with_gaps = np.concatenate([rng.normal(size=1000), [np.nan, np.inf, -np.inf]])
    for reference, current in (
        (with_gaps, rng.normal(1, size=500)),
        (with_gaps, np.array([])),
        (np.ones(10), np.ones(10)),
    ):
        svg = _plot(reference, current, "<script>amount</script>")
        tree = ET.fromstring(svg)  # well-formed, and the title is text, not markup
        assert len(tree.findall("{http://www.w3.org/2000/svg}polygon")) == 2
        assert "<script>" not in svg and "nan" not in svg.lower().replace("&lt;", "")
