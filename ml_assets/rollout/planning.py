"""How much traffic a release plan needs to reach a decision: the arithmetic the config check shows (pure).

Proving non-inferiority costs traffic: the failure rate's bound narrows with the canary's request count, and the
first step sends the canary only a small share. For a good canary (behaving exactly like the stable variant) this
module finds the canary requests after which the failure rate and the score distribution are shown within their
margins, typically (counts at their expected values) and cautiously (the 99th percentile of a good canary's
failure count; the 99th percentile of the KS distance between two samples of one distribution). Latency needs
far fewer requests for any plausible spread and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ml_assets.rollout.engine import ReleasePlan
from ml_assets.rollout.sequential import bernoulli_bounds, dkw_radius

MAX_REQUESTS = 10_000_000
KOLMOGOROV_MEDIAN, KOLMOGOROV_99 = 0.828, 1.628  # quantiles of sqrt(n m / (n + m)) KS under no difference


def _smallest(passes, high: int = MAX_REQUESTS) -> int | None:
    """The smallest n in [1, high] with passes(n) (monotone in n), or None."""
    if not passes(high):
        return None
    low = 1
    while low < high:
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle + 1
    return low


StableCount = Callable[[int], int]  # canary requests -> stable requests over the same time


def failure_rate_requests(
    margin: float, error_rate: float, *, alpha: float, stable_count: StableCount, quantile: float = 0.5
) -> int | None:
    """Canary requests after which a good canary's failure rate is shown within ``margin`` (at ``quantile``)."""

    def failures(n: int) -> int:
        if quantile == 0.5:  # the median of a binomial is its mean, rounded
            return round(n * error_rate)
        from scipy.stats import binom  # only for the cautious figure that check-config prints

        return int(binom.ppf(quantile, n, error_rate))

    def passes(n: int) -> bool:
        canary_failures = failures(n)
        stable_n = max(1, stable_count(n))
        _, canary_upper = bernoulli_bounds(canary_failures, n, alpha / 2)
        stable_lower, _ = bernoulli_bounds(round(stable_n * error_rate), stable_n, alpha / 2)
        return canary_upper - stable_lower < margin

    return _smallest(passes)


def scores_requests(margin: float, alpha: float, stable_count: StableCount, cautious: bool = False) -> int | None:
    """Canary scored requests after which a good canary's score distribution is shown within ``margin``."""
    factor = KOLMOGOROV_99 if cautious else KOLMOGOROV_MEDIAN

    def passes(n: int) -> bool:
        stable_n = max(1, stable_count(n))
        observed = factor * math.sqrt(1 / n + 1 / stable_n)
        return observed + dkw_radius(n, alpha / 2) + dkw_radius(stable_n, alpha / 2) < margin

    return _smallest(passes)


@dataclass(frozen=True)
class Estimate:
    """Requests a good canary needs on one signal, and the time they take at the first phase's traffic."""

    signal: str
    shown: str  # what is shown, in words
    canary_rps: float
    typical: int | None
    cautious: int | None

    def seconds(self, requests: int | None) -> float:
        return math.inf if requests is None or self.canary_rps <= 0 else requests / self.canary_rps

    def describe(self) -> str:
        def part(requests: int | None) -> str:
            if requests is None:
                return f"more than {MAX_REQUESTS:,} requests"
            return f"{requests:,} canary requests ({_duration(self.seconds(requests))})"

        text = f"{self.shown}: {part(self.typical)} for a typical good release"
        return text if self.cautious is None else f"{text}, {part(self.cautious)} for 99 % of them"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def first_phase(plan: ReleasePlan, requests_per_second: float) -> tuple[str, float, StableCount]:
    """(the first analysed phase, the canary's requests/s there, the stable requests beside n canary ones)."""
    if plan.strategy == "blue_green":
        # After the switch the canary takes everything; the baseline is the stable's last max_bake_seconds.
        baseline = round(plan.max_bake_seconds * requests_per_second)
        return "after the switch", requests_per_second, lambda n: baseline
    share = (plan.shadow_percent or plan.steps[0]) / 100
    name = f"shadow {plan.shadow_percent}%" if plan.shadow_percent else f"step {plan.steps[0]}%"
    stable_per_canary = (1 if plan.shadow_percent else 1 - share) / share
    return name, requests_per_second * share, lambda n: round(n * stable_per_canary)


def estimates(
    plan: ReleasePlan, requests_per_second: float, error_rate: float, cautious: bool = True
) -> tuple[str, list[Estimate]]:
    """The first analysed phase and what a good canary needs there, per signal (``cautious``: the 99 % figures
    too, which need SciPy)."""
    alphas, analysis = plan.alphas, plan.analysis
    phase, canary_rps, stable_count = first_phase(plan, requests_per_second)
    margin, ks = analysis.error_rate_margin, analysis.score_ks_margin
    failure = Estimate(
        "failure_rate",
        f"showing the failure rate at most {100 * margin:+.2f} points worse (stable {error_rate:.1%})",
        canary_rps,
        failure_rate_requests(margin, error_rate, alpha=alphas.failure_rate, stable_count=stable_count, quantile=0.5),
        failure_rate_requests(margin, error_rate, alpha=alphas.failure_rate, stable_count=stable_count, quantile=0.99)
        if cautious
        else None,
    )
    scores = Estimate(
        "scores",
        f"showing the score distribution within KS {ks:.2f}",
        canary_rps * (1 - error_rate),
        scores_requests(ks, alphas.scores, stable_count),
        scores_requests(ks, alphas.scores, stable_count, cautious=True) if cautious else None,
    )
    return phase, [failure, scores]


def undecidable(plan: ReleasePlan, requests_per_second: float, error_rate: float) -> str | None:
    """Why a typical good release cannot pass its first phase within the budget, with the arithmetic; or None."""
    if plan.strategy == "direct":
        return None
    phase, found = estimates(plan, requests_per_second, error_rate, cautious=False)
    budget = plan.max_bake_seconds
    slow = [e for e in found if e.seconds(e.typical) > budget]
    if not slow:
        return None
    worst = max(slow, key=lambda e: e.seconds(e.typical))
    return (
        f"at {worst.canary_rps:g} requests/s to the canary ({phase} of {requests_per_second:g} requests/s), "
        f"{worst.describe()}; the budget max_bake_seconds is {budget:g} s: the release cannot reach a decision. "
        "Raise the first step, the margin or the budget (or the traffic)"
    )
