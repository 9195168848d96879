"""Release decisions by simulation: the analysis of ml_assets/rollout against the seed's fixed-threshold rule on
the same request streams.

A release walks the canary steps 5 -> 10 -> 25 -> 50 % of 100 requests/s, baking 30 s per look, up to 4 looks per
step (the defaults). Stable: 1 % errors, log-normal latencies around 4 ms, Beta(0.5, 8) scores. Degraded canaries:
+2 and +5 points of errors, 1.5x and 2x latency, scores shifted to PSI 0.1 and 0.25; identical canaries measure
false rollbacks. The seed's rule: 30 samples per stage, fail if the canary's error rate is 2 points higher or its
mean latency 50 % higher.

    .venv/bin/python benchmarks/release_decisions.py [--releases 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass

import numpy as np

from ml_assets.rollout.analysis import AnalysisConfig, ArmWindow, Verdict, analyze, population_stability_index

STEPS = (5, 10, 25, 50)
RATE, BAKE, LOOKS = 100, 30, 4


@dataclass(frozen=True)
class Canary:
    name: str
    error_rate: float = 0.01
    latency_scale: float = 1.0
    score_shift: float = 0.0


def _arm(rng: np.random.Generator, n: int, canary: Canary | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = canary or Canary("stable")
    errors = rng.uniform(size=n) < c.error_rate
    latency = rng.lognormal(np.log(4.0), 0.35, n) * c.latency_scale
    scores = np.clip(rng.beta(0.5, 8, n) + c.score_shift, 0, 1)
    return errors, latency, scores


def _window(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> ArmWindow:
    errors = np.concatenate([p[0] for p in parts])
    ok = ~errors
    return ArmWindow(
        len(errors),
        int(errors.sum()),
        np.concatenate([p[1] for p in parts])[ok],
        np.concatenate([p[2] for p in parts])[ok],
    )


def ours(rng: np.random.Generator, canary: Canary, config: AnalysisConfig) -> tuple[bool, int]:
    """(rolled back, canary requests seen) with the engine's analysis."""
    look, seen = 0, 0
    for step in STEPS:
        stable_parts, canary_parts = [], []
        for _ in range(LOOKS):
            n_canary = rng.poisson(RATE * BAKE * step / 100)
            stable_parts.append(_arm(rng, rng.poisson(RATE * BAKE * (100 - step) / 100), None))
            canary_parts.append(_arm(rng, n_canary, canary))
            seen += n_canary
            look += 1
            verdict = analyze(_window(stable_parts), _window(canary_parts), look, config).verdict
            if verdict == Verdict.FAIL:
                return True, seen
            if verdict == Verdict.PASS:
                break
        else:
            return True, seen  # inconclusive after every extension: rolled back, never promoted on no data
    return False, seen


def seed_rule(rng: np.random.Generator, canary: Canary) -> tuple[bool, int]:
    seen = 0
    for _ in STEPS:
        s_err, s_lat, _ = _arm(rng, 30, None)
        c_err, c_lat, _ = _arm(rng, 30, canary)
        seen += 30
        if c_err.mean() > s_err.mean() + 0.02 or c_lat.mean() > 1.5 * s_lat.mean():
            return True, seen
    return False, seen


def _shift_for_psi(target: float) -> float:
    rng = np.random.default_rng(0)
    reference = rng.beta(0.5, 8, 200_000)
    shifts = np.linspace(0, 0.1, 401)
    psis = [population_stability_index(reference, np.clip(rng.beta(0.5, 8, 200_000) + s, 0, 1)) for s in shifts]
    return float(shifts[int(np.argmin(np.abs(np.array(psis) - target)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=200)
    args = parser.parse_args()
    config = AnalysisConfig(alpha=0.01, max_looks=len(STEPS) * LOOKS)
    canaries = [
        Canary("identical (false rollbacks)"),
        Canary("+2 points errors", error_rate=0.03),
        Canary("+5 points errors", error_rate=0.06),
        Canary("1.5x latency", latency_scale=1.5),
        Canary("2x latency", latency_scale=2.0),
        Canary("scores, PSI 0.1", score_shift=_shift_for_psi(0.1)),
        Canary("scores, PSI 0.25", score_shift=_shift_for_psi(0.25)),
    ]
    print(
        f"cores: {os.cpu_count()}  releases per scenario: {args.releases}  alpha {config.alpha}, "
        f"{config.max_looks} looks at most"
    )
    print("| canary | ml_assets: rolled back | canary requests to decide (median) | seed rule: rolled back |")
    print("|---|---|---|---|")
    for canary in canaries:
        rng_ours, rng_seed = np.random.default_rng(1), np.random.default_rng(1)
        ours_runs = [ours(rng_ours, canary, config) for _ in range(args.releases)]
        seed_runs = [seed_rule(rng_seed, canary) for _ in range(args.releases)]
        rolled = sum(r for r, _ in ours_runs) / args.releases
        needed = statistics.median(n for r, n in ours_runs if r) if any(r for r, _ in ours_runs) else float("nan")
        seed = sum(r for r, _ in seed_runs) / args.releases
        print(f"| {canary.name} | {rolled:.1%} | {needed:.0f} | {seed:.1%} |")


if __name__ == "__main__":
    main()
