"""Release decisions: the release engine, run with the settings a config ships, over hundreds of simulated releases.

For each config (the shipped fraud.yaml and breast_cancer.yaml by default, or any --config), every release runs
the real engine (ml_assets.rollout.engine) with the config's plan (steps, bake, budget, margins, alpha) against
the simulated platform (ml_assets.rollout.simulator) at the config's expected traffic, on a clock that jumps.
The stable variant fails 1 % of requests; canaries are identical (false rollbacks), or worse by +2 or +5 points
of 5xx, +5 points of 4xx on valid requests, 1.5x or 2x latency, or scores shifted on the logit scale to PSI 0.1
(moderate: not a failure by design) or PSI 0.25. Printed per scenario: the rollback rate with its 95 % Wilson
interval, the median canary requests until the decision, and for promoted releases the median time to 100 %.
A fixed-sample rule (30 samples per stage, fail on +2 points of errors or +50 % mean latency) runs on the same
scenarios for comparison.

The same plan through real processes is benchmarks/release_real.py.

    .venv/bin/python benchmarks/release_decisions.py [--releases 400] [--config FILE ...] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml_assets.config import load_config
from ml_assets.rollout.backend import ModelRef
from ml_assets.rollout.clock import FakeClock
from ml_assets.rollout.engine import ReleasePlan, RolloutEngine
from ml_assets.rollout.simulator import Behaviour, SimulatedBackend, logit_shift_for_psi
from ml_assets.rollout.state import PROMOTED
from ml_assets.settings import PACKAGE_DIR

SHIPPED = [PACKAGE_DIR / "configs" / "fraud.yaml", PACKAGE_DIR / "configs" / "breast_cancer.yaml"]
STABLE_ERROR_RATE = 0.01
CHUNK = 50  # releases per job of the process pool


@dataclass(frozen=True)
class Scenario:
    name: str
    behaviour: Behaviour = field(default_factory=Behaviour)


def scenarios() -> list[Scenario]:
    return [
        Scenario("identical (false rollbacks)"),
        Scenario("+2 points of errors (5xx)", Behaviour(error_rate=0.03)),
        Scenario("+5 points of errors (5xx)", Behaviour(error_rate=0.06)),
        Scenario("+5 points of 4xx on valid requests", Behaviour(client_error_rate=0.05)),
        Scenario("1.5x latency", Behaviour(latency_scale=1.5)),
        Scenario("2x latency", Behaviour(latency_scale=2.0)),
        Scenario(
            "scores at PSI 0.1 (moderate: not a failure by design)", Behaviour(logit_shift=logit_shift_for_psi(0.1))
        ),
        Scenario("scores at PSI 0.25", Behaviour(logit_shift=logit_shift_for_psi(0.25))),
    ]


class LastState:
    """Keeps the state object itself: the benchmark measures decisions, not JSON encoding."""

    def __init__(self) -> None:
        self.states: dict = {}

    def load(self, environment: str):
        return self.states.get(environment)

    def save(self, state) -> None:
        self.states[state.environment] = state


def one_release(plan: ReleasePlan, rate: float, behaviour: Behaviour, seed: int) -> tuple[bool, bool, int, float]:
    """(rolled back, rolled back because shown worse rather than for want of evidence, canary requests seen until
    the decision, seconds from the start to the decision)."""
    backend = SimulatedBackend(rate_per_second=rate, seed=seed)
    backend.behaviour_for_version = {"1": Behaviour(error_rate=STABLE_ERROR_RATE), "2": behaviour}
    clock = FakeClock(on_sleep=backend.traffic)
    engine = RolloutEngine(backend, LastState(), clock=clock, plan=plan, environment="production")
    engine.release(ModelRef("model", "1"))
    clock.sleep(max(plan.max_bake_seconds, 60.0))  # the stable version serves a while (the blue-green baseline)
    started = clock.now()
    state = engine.release(ModelRef("model", "2"))
    canary_requests = sum(len(batch) for batch in backend.batches.get(state.candidate_slot, []))
    shown_worse = any(event.get("verdict") == "fail" for event in state.events)
    return state.status != PROMOTED, shown_worse, canary_requests, clock.now() - started


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def fixed_sample_rule(rng: np.random.Generator, behaviour: Behaviour) -> bool:
    """The fixed-sample rule on 30 requests per stage (+2 points of errors or +50 % mean latency): rolled back?"""
    for _ in range(4):
        stable_errors = (rng.uniform(size=30) < STABLE_ERROR_RATE).mean()
        canary_errors = (rng.uniform(size=30) < behaviour.error_rate + behaviour.client_error_rate).mean()
        stable_latency = rng.lognormal(np.log(4.0), 0.35, 30).mean()
        canary_latency = rng.lognormal(np.log(4.0), 0.35, 30).mean() * behaviour.latency_scale
        if canary_errors > stable_errors + 0.02 or canary_latency > 1.5 * stable_latency:
            return True
    return False


def run_releases(args: tuple[ReleasePlan, float, Behaviour, range]) -> list[tuple[bool, bool, int, float]]:
    plan, rate, behaviour, seeds = args
    return [one_release(plan, rate, behaviour, seed) for seed in seeds]


def summarize(config_name: str, scenario: Scenario, runs: list[tuple[bool, bool, int, float]]) -> dict:
    releases = len(runs)
    rolled = sum(r for r, _, _, _ in runs)
    low, high = wilson(rolled, releases)
    rng = np.random.default_rng(1)
    fixed_rolled = sum(fixed_sample_rule(rng, scenario.behaviour) for _ in range(releases))
    promoted_times = [t for r, _, _, t in runs if not r]
    return {
        "config": config_name,
        "scenario": scenario.name,
        "releases": releases,
        "rolled_back": rolled / releases,
        "rolled_back_95": [low, high],
        "shown_worse": sum(w for _, w, _, _ in runs) / releases,
        "canary_requests_to_decide_median": statistics.median(n for _, _, n, _ in runs),
        "promoted_minutes_median": statistics.median(promoted_times) / 60 if promoted_times else None,
        "decision_minutes_median": statistics.median(t for _, _, _, t in runs) / 60,
        "fixed_rule_rolled_back": fixed_rolled / releases,
    }


def simulate(paths: list[Path], releases: int) -> tuple[dict, list[dict]]:
    """Each config's plan (as the figures name it) and every scenario's results."""
    jobs, keys, plans = [], [], {}
    for path in paths:
        deployment = load_config(path).deployment
        plan, rate = deployment.release_plan(), deployment.expected_requests_per_second
        a = plan.analysis
        plans[path.name] = {
            "strategy": plan.strategy,
            "steps": list(plan.steps),
            "bake_seconds": plan.bake_seconds,
            "max_bake_seconds": plan.max_bake_seconds,
            "requests_per_second": rate,
            "error_rate_margin": a.error_rate_margin,
            "latency_quantile": a.latency_quantile,
            "latency_ratio_margin": a.latency_ratio_margin,
            "score_ks_margin": a.score_ks_margin,
            "alpha": a.alpha,
        }
        keys += [(path.name, scenario) for scenario in scenarios()]
        jobs += [
            (plan, rate, scenario.behaviour, range(start, min(start + CHUNK, releases)))
            for scenario in scenarios()
            for start in range(0, releases, CHUNK)
        ]
    # chunks of a scenario's seeds rather than whole scenarios: their lengths differ tenfold, and whole ones left a
    # core idle at the end
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        chunks = iter(pool.map(run_releases, jobs))
    per_scenario = -(-releases // CHUNK)
    results = [
        summarize(name, scenario, [run for _ in range(per_scenario) for run in next(chunks)]) for name, scenario in keys
    ]
    from tables import release_simulated_table

    print(release_simulated_table({"plans": plans, "simulated": results}))
    return plans, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=400)
    parser.add_argument("--config", type=Path, action="append", help="a pipeline config (default: the shipped ones)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="40 releases per scenario")
    args = parser.parse_args()
    releases = 40 if args.quick else args.releases
    print(f"cores: {os.cpu_count()}; stable variant: {STABLE_ERROR_RATE:.0%} failures")
    started = time.monotonic()
    plans, results = simulate(args.config or SHIPPED, releases)
    figures = {"cores": os.cpu_count(), "releases": releases, "plans": plans, "simulated": results}
    print(f"\nsimulated in {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
