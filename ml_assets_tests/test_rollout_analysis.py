import numpy as np
import pytest

from ml_assets.rollout.analysis import (
    AnalysisConfig,
    ArmWindow,
    Verdict,
    analyze,
    look_alpha,
    population_stability_index,
)

CONFIG = AnalysisConfig(alpha=0.01, max_looks=10)


def arm(rng: np.random.Generator, n: int, error_rate=0.01, latency_scale=1.0, score_shift=0.0) -> ArmWindow:
    errors = int(rng.binomial(n, error_rate))
    latencies = rng.lognormal(np.log(4.0), 0.3, size=n) * latency_scale
    scores = np.clip(rng.beta(0.5, 8, size=n) + score_shift, 0, 1)
    return ArmWindow(requests=n, errors=errors, latencies_ms=latencies, scores=scores)


def test_alpha_spending_sums_to_alpha_and_is_back_loaded() -> None:
    spent = [look_alpha(CONFIG, k) for k in range(1, 11)]
    assert sum(spent) == pytest.approx(0.01)
    assert spent[0] < spent[-1] / 100  # early looks, on little data, spend almost nothing
    assert look_alpha(CONFIG, 50) == look_alpha(CONFIG, 10)  # extra looks never spend more than the last


def test_no_data_is_inconclusive_never_a_pass() -> None:
    rng = np.random.default_rng(0)
    result = analyze(arm(rng, 500), arm(rng, 37), look=1, config=CONFIG)
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "canary has 37 of 200 requests" in result.reason
    empty = analyze(ArmWindow(0, 0), ArmWindow(0, 0), look=1, config=CONFIG)
    assert empty.verdict == Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("canary_kwargs", "metric", "text"),
    [
        ({"error_rate": 0.06}, "error_rate", "canary fails more often"),
        ({"latency_scale": 2.0}, "latency", "canary slower beyond 25%"),
        ({"score_shift": 0.2}, "scores", "predictions shifted"),
    ],
)
def test_degraded_canaries_fail_with_the_right_reason(canary_kwargs, metric: str, text: str) -> None:
    rng = np.random.default_rng(1)
    result = analyze(arm(rng, 1000), arm(rng, 1000, **canary_kwargs), look=10, config=CONFIG)
    assert result.verdict == Verdict.FAIL
    failed = [m for m in result.metrics if m.verdict == Verdict.FAIL]
    assert [m.metric for m in failed] == [metric]
    assert text in result.reason


def test_small_significant_latency_change_is_below_the_effect_floor() -> None:
    rng = np.random.default_rng(2)
    result = analyze(arm(rng, 5000), arm(rng, 5000, latency_scale=1.1), look=10, config=CONFIG)
    latency = next(m for m in result.metrics if m.metric == "latency")
    assert latency.statistics["p_value"] < 1e-6 and latency.verdict == Verdict.PASS


def test_identical_releases_rarely_fail() -> None:
    """200 releases of an identical model, 5 looks each: false rollbacks stay within alpha."""
    rng = np.random.default_rng(3)
    config = AnalysisConfig(alpha=0.01, max_looks=5)
    failures = 0
    for _ in range(200):
        verdicts = [analyze(arm(rng, 500), arm(rng, 500), look, config).verdict for look in range(1, 6)]
        failures += Verdict.FAIL in verdicts
    assert failures <= 2


def test_psi_bands() -> None:
    rng = np.random.default_rng(4)
    reference = rng.normal(size=20000)
    assert population_stability_index(reference, rng.normal(size=20000)) < 0.01
    assert 0.1 < population_stability_index(reference, rng.normal(0.5, 1, size=20000)) < 0.5
    assert population_stability_index(reference, rng.normal(2, 1, size=20000)) > 1
    assert population_stability_index(np.zeros(100), np.zeros(100)) == 0.0
