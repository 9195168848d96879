"""Anytime-valid confidence sequences: bounds that hold at every look at once, however often one looks.

A confidence sequence at level ``alpha`` covers the true value at *all* sample sizes simultaneously with
probability at least 1 - alpha (Ville's inequality applied to a nonnegative test martingale), so a release may
be analysed after every request batch and stopped at any look without inflating its error rates.

Two constructions, both exact (no normal approximation, so they hold for a handful of rare errors):

- A Bernoulli mean (an error rate, or the share of observations below a quantile): the beta-binomial mixture
  martingale of Robbins (1970). For each hypothesised rate ``p0`` the Bayes factor of a Beta prior centred on
  ``p0`` against ``p0`` itself is a martingale under ``p0``; the sequence is every ``p0`` it has not yet
  rejected. The prior is worth ``PRIOR_STRENGTH`` observations: sharp from a few hundred requests on and still
  sharp at tens of thousands (Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic
  confidence sequences", Annals of Statistics 2021, section 3.2).
- A whole distribution function (the Kolmogorov-Smirnov distance, quantiles): the time-uniform
  Dvoretzky-Kiefer-Wolfowitz band of Howard and Ramdas, "Sequential estimation of quantiles with applications to
  A/B-testing and best-arm identification", Bernoulli 2022, Theorem 2 (A = 0.85).

The maintained packages that implement these (``confseq``: a C++ build that needs Boost; ``expectation``:
Python >= 3.12) cannot be installed here, so the few lines they take live in this module. They use only the
standard library (``math.lgamma`` for the log-beta function, bisection for the roots): loading a pipeline config
checks its release plan with them, and importing SciPy there would slow every code-location load. The tests
compare them with SciPy.
"""

from __future__ import annotations

import math
from functools import lru_cache

PRIOR_STRENGTH = 20.0
DKW_A = 0.85
_EDGE = 1e-12


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def root(f, low: float, high: float, *, tolerance: float = 1e-10) -> float:
    """A root of ``f`` in [low, high] where f(low) and f(high) have opposite signs (bisection)."""
    f_low = f(low)
    for _ in range(200):
        middle = (low + high) / 2
        if high - low <= tolerance:
            break
        f_middle = f(middle)
        if (f_middle < 0) == (f_low < 0):
            low, f_low = middle, f_middle
        else:
            high = middle
    return (low + high) / 2


def bernoulli_log_evidence(successes: float, trials: float, p0: float, strength: float = PRIOR_STRENGTH) -> float:
    """log of the beta-binomial mixture martingale against the rate ``p0`` after ``successes`` of ``trials``."""
    a, b = strength * p0, strength * (1 - p0)
    return (
        log_beta(a + successes, b + trials - successes)
        - log_beta(a, b)
        - successes * math.log(p0)
        - (trials - successes) * math.log1p(-p0)
    )


def bernoulli_bounds(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """The confidence sequence for a Bernoulli rate after ``successes`` of ``trials``: (lower, upper).

    Every rate whose mixture martingale is still below 1/alpha; with no trials, [0, 1].
    """
    if trials <= 0:
        return 0.0, 1.0
    threshold = math.log(1 / alpha)
    observed = min(max(successes / trials, _EDGE), 1 - _EDGE)

    def excess(p0: float) -> float:
        return bernoulli_log_evidence(successes, trials, p0) - threshold

    lower = 0.0 if successes == 0 or excess(_EDGE) < 0 else root(excess, _EDGE, observed)
    upper = 1.0 if successes == trials or excess(1 - _EDGE) < 0 else root(excess, observed, 1 - _EDGE)
    return lower, upper


def binomial_count_bounds(trials: int, p0: float, alpha: float) -> tuple[float, float]:
    """The counts out of ``trials`` that the rate ``p0`` still explains at level ``alpha``: (lowest, highest).

    For a quantile ``q`` of a continuous distribution the number of observations at or below it is a
    Binomial(t, q) walk, so it stays within these counts at every t; the order statistics at the two counts
    bound the quantile (Howard and Ramdas 2022, section 3).
    """
    if trials <= 0:
        return 0.0, 0.0
    threshold = math.log(1 / alpha)
    centre = trials * p0

    def excess(count: float) -> float:
        return bernoulli_log_evidence(count, trials, p0) - threshold

    lowest = 0.0 if excess(0.0) < 0 else root(excess, 0.0, centre, tolerance=1e-6)
    highest = float(trials) if excess(float(trials)) < 0 else root(excess, centre, float(trials), tolerance=1e-6)
    return lowest, highest


@lru_cache(maxsize=64)
def _dkw_constant(alpha: float, a: float = DKW_A) -> float:
    """C of Theorem 2 (Howard and Ramdas 2022): the smallest C whose crossing probability is ``alpha``."""

    def crossing(c: float, eta: float) -> float:
        gamma_sq = 2 / eta * (a - math.sqrt(2 * (eta - 1) / c)) ** 2
        if gamma_sq <= 1:
            return math.inf
        return 4 * math.exp(-gamma_sq * c) * (1 + 1 / ((gamma_sq - 1) * math.log(eta)))

    def best_crossing(c: float) -> float:
        eta_max = root(lambda eta: math.sqrt(eta / 2) + math.sqrt(2 * (eta - 1) / c) - a, 1.0, 2 * a * a)
        low, high = 1 + 1e-9, eta_max
        for _ in range(100):  # golden-section search: the crossing bound is unimodal in eta
            left, right = high - 0.618 * (high - low), low + 0.618 * (high - low)
            if crossing(c, left) < crossing(c, right):
                high = right
            else:
                low = left
        return crossing(c, (low + high) / 2)

    return root(lambda c: best_crossing(c) - alpha, 1.0, 500.0, tolerance=1e-8)


def dkw_radius(n: int, alpha: float) -> float:
    """The time-uniform DKW radius: the empirical CDF of n observations stays within it of the true CDF,
    everywhere and at every n, with probability at least 1 - alpha."""
    if n <= 0:
        return 1.0
    return min(1.0, DKW_A * math.sqrt((math.log(1 + math.log(n)) + _dkw_constant(alpha)) / n))
