"""The release analysis: confidence sequences that hold at every look, and verdicts that need evidence."""

import math

import numpy as np
import pytest
from scipy.special import betaln

from ml_assets.rollout.analysis import (
    ALPHA_SHARES,
    Comparison,
    Verdict,
    analyze,
    ks_bounds,
    psi_of_counts,
    quantile_bounds,
    split_alpha,
    three_way,
)
from ml_assets.rollout.backend import ModelRef
from ml_assets.rollout.evidence import LATENCY_EDGES_MS, SCORE_EDGES, ArmEvidence, Outcomes
from ml_assets.rollout.sequential import (
    bernoulli_bounds,
    bernoulli_log_evidence,
    binomial_count_bounds,
    dkw_radius,
    log_beta,
)
from ml_assets.rollout.simulator import Behaviour, SimulatedBackend, logit_shift_for_psi
from ml_assets_tests.conftest import margins

pytestmark = pytest.mark.unit

CONFIG = margins()
ALPHAS = split_alpha(0.01, accumulated_scopes=1, step_scopes=1)


GOOD = Behaviour()


def outcomes(rng: np.random.Generator, n: int, behaviour: Behaviour = GOOD) -> Outcomes:
    backend = SimulatedBackend(rate_per_second=n, seed=int(rng.integers(1 << 31)))
    backend.launch("blue", ModelRef("m", "1"))
    backend.behaviours["blue"] = behaviour
    backend.set_weights({"blue": 100})
    backend.traffic(0.0, 1.0)
    return backend.outcomes("blue", 0.0)[0]


def compare(stable: Outcomes, canary: Outcomes) -> Comparison:
    s, c = ArmEvidence.of(stable), ArmEvidence.of(canary)
    return Comparison(s, c, s, c)


def test_the_log_beta_and_the_evidence_match_scipy() -> None:
    for a, b in ((0.2, 19.8), (10.5, 20000.0), (1e-3, 3.0)):
        assert log_beta(a, b) == pytest.approx(betaln(a, b), rel=1e-12, abs=1e-9)
    # The mixture martingale is a likelihood ratio: at the observed rate it never exceeds 1.
    assert bernoulli_log_evidence(10, 1000, 0.01) <= 0
    low, high = bernoulli_bounds(10, 1000, 0.01)
    assert bernoulli_log_evidence(10, 1000, low) == pytest.approx(math.log(100), abs=1e-6)
    assert bernoulli_log_evidence(10, 1000, high) == pytest.approx(math.log(100), abs=1e-6)
    assert low < 0.01 < high


def test_bernoulli_sequences_cover_the_rate_at_every_look() -> None:
    """Looking after every 25 requests up to 4,000: the rate leaves the sequence in at most alpha of the runs."""
    rng = np.random.default_rng(0)
    alpha, rate, runs = 0.05, 0.02, 200
    missed = 0
    for _ in range(runs):
        failures = np.cumsum(rng.uniform(size=4000) < rate)
        for n in range(25, 4001, 25):
            low, high = bernoulli_bounds(int(failures[n - 1]), n, alpha)
            if not low <= rate <= high:
                missed += 1
                break
    assert missed <= alpha * runs  # an honest bound holds; a fixed-sample 95 % interval misses far more often


def test_no_trials_bound_nothing() -> None:
    assert bernoulli_bounds(0, 0, 0.01) == (0.0, 1.0)
    assert bernoulli_bounds(0, 300, 0.01)[0] == 0.0
    assert bernoulli_bounds(300, 300, 0.01)[1] == 1.0


def test_dkw_band_holds_uniformly_and_narrows() -> None:
    rng = np.random.default_rng(1)
    alpha, runs, missed = 0.05, 100, 0
    for _ in range(runs):
        values = rng.uniform(size=3000)
        for n in (30, 100, 300, 1000, 3000):
            seen = np.sort(values[:n])
            gap = max(np.max(np.arange(1, n + 1) / n - seen), np.max(seen - np.arange(n) / n))
            if gap > dkw_radius(n, alpha):
                missed += 1
                break
    assert missed <= alpha * runs
    assert dkw_radius(0, 0.01) == 1.0 and dkw_radius(10_000, 0.01) < dkw_radius(1000, 0.01) < 0.11


def test_quantile_bounds_cover_the_median_of_a_histogram() -> None:
    rng = np.random.default_rng(2)
    latencies = rng.lognormal(np.log(4.0), 0.35, 2000)
    counts = np.histogram(latencies, LATENCY_EDGES_MS)[0]
    low, estimate, high = quantile_bounds(counts, LATENCY_EDGES_MS, 0.5, alpha=0.01)
    assert low < 4.0 < high and estimate == pytest.approx(4.0, rel=0.05)
    assert high / low < 1.15
    lowest, highest = binomial_count_bounds(2000, 0.5, 0.01)
    assert lowest < 1000 < highest
    assert quantile_bounds(np.zeros_like(counts), LATENCY_EDGES_MS, 0.5, alpha=0.01)[2] == math.inf


def test_ks_and_psi_of_histograms() -> None:
    rng = np.random.default_rng(3)
    base = rng.beta(0.5, 8, 50_000)
    shifted = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + logit_shift_for_psi(0.25))))
    same = np.histogram(rng.beta(0.5, 8, 50_000), SCORE_EDGES)[0]
    reference, moved = np.histogram(base, SCORE_EDGES)[0], np.histogram(shifted, SCORE_EDGES)[0]
    low, observed, high = ks_bounds(reference, moved, 0.01)
    assert 0.15 < low < observed < high < 0.25
    assert psi_of_counts(reference, moved) == pytest.approx(0.25, abs=0.03)
    assert ks_bounds(reference, same, 0.01)[1] < 0.02
    assert ks_bounds(reference, np.zeros_like(reference), 0.01) == (0.0, pytest.approx(float("nan"), nan_ok=True), 1.0)


def test_alpha_is_split_across_signals_and_sequences() -> None:
    alphas = split_alpha(0.01, accumulated_scopes=2, step_scopes=4)
    assert sum(ALPHA_SHARES.values()) == 1
    assert alphas.failure_rate * 2 + alphas.scores * 2 + alphas.latency * 4 == pytest.approx(0.01)


def test_three_way_needs_evidence_both_ways() -> None:
    assert three_way(0.02, 0.05, margin=0.015) == Verdict.FAIL
    assert three_way(-0.01, 0.01, margin=0.015) == Verdict.PASS
    assert three_way(-0.01, 0.03, margin=0.015) == Verdict.INCONCLUSIVE


def test_an_identical_canary_passes_only_once_there_is_enough_evidence() -> None:
    rng = np.random.default_rng(4)
    little = analyze(compare(outcomes(rng, 2000), outcomes(rng, 100)), CONFIG, alphas=ALPHAS)
    assert little.verdict == Verdict.INCONCLUSIVE and "not yet shown either way" in little.reason
    plenty = analyze(compare(outcomes(rng, 60_000), outcomes(rng, 6000)), CONFIG, alphas=ALPHAS)
    assert plenty.verdict == Verdict.PASS, plenty.reason
    nothing = analyze(compare(Outcomes(), Outcomes()), CONFIG, alphas=ALPHAS)
    assert nothing.verdict == Verdict.INCONCLUSIVE  # a metric source that returns nothing is never a pass


@pytest.mark.parametrize(
    ("behaviour", "metric", "text"),
    [
        (Behaviour(error_rate=0.08), "failure_rate", "canary fails more often"),
        (Behaviour(error_rate=0.01, client_error_rate=0.08), "failure_rate", "canary fails more often"),
        (Behaviour(latency_scale=2.0), "latency", "canary slower, beyond the margin"),
        (Behaviour(logit_shift=1.5), "scores", "predictions shifted, beyond the margin"),
    ],
)
def test_a_degraded_canary_fails_on_the_right_signal(behaviour: Behaviour, metric: str, text: str) -> None:
    rng = np.random.default_rng(5)
    result = analyze(compare(outcomes(rng, 20_000), outcomes(rng, 3000, behaviour)), CONFIG, alphas=ALPHAS)
    assert result.verdict == Verdict.FAIL
    assert [m.metric for m in result.metrics if m.verdict == Verdict.FAIL] == [metric]
    assert text in result.reason


def test_client_errors_of_the_canary_are_failures_too() -> None:
    rng = np.random.default_rng(6)
    canary = ArmEvidence.of(outcomes(rng, 3000, Behaviour(error_rate=0.0, client_error_rate=0.1)))
    assert canary.client_errors > 200 and canary.failures == canary.client_errors and canary.server_errors == 0


def test_looking_after_every_batch_does_not_inflate_false_rollbacks() -> None:
    """An identical canary analysed after every 100 requests for 60 looks, 150 times: failures stay rare."""
    rng = np.random.default_rng(7)
    alphas = split_alpha(0.05, accumulated_scopes=1, step_scopes=1)
    failed = 0
    for _ in range(150):
        stable, canary = ArmEvidence(), ArmEvidence()
        for _look in range(60):
            stable.add(outcomes(rng, 900))
            canary.add(outcomes(rng, 100))
            if analyze(Comparison(stable, canary, stable, canary), CONFIG, alphas=alphas).verdict == Verdict.FAIL:
                failed += 1
                break
    assert failed <= 0.05 * 150
