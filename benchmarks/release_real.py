"""Releases through the real gateway and model-server processes on 127.0.0.1, with fraud.yaml's release plan.

XGBoost models registered in a throwaway state folder, 100 requests/s of replayed records through the gateway
during each release: a good version, one with +5 points of injected 5xx (``ML_ASSETS_CHAOS``), one with shifted
scores (``scale_pos_weight`` 30). Each release's verdict, reason and wall time are printed. The time is the plan's
(its bakes and looks run on the system clock), so this benchmark takes minutes whatever the machine: it is a long
one (`benchmarks/run_all.py --long`). benchmarks/release_decisions.py runs the same engine over hundreds of
simulated releases.

    .venv/bin/python benchmarks/release_real.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from local_models import registered_models

from ml_assets.config import load_config
from ml_assets.resources.local_platform import LocalServingPlatform, free_port
from ml_assets.resources.rollout_state import JsonStateStore
from ml_assets.rollout.clock import SystemClock
from ml_assets.rollout.engine import RolloutEngine
from ml_assets.rollout.state import PROMOTED
from ml_assets.serving.replay import BackgroundReplay
from ml_assets.settings import PACKAGE_DIR

CONFIG = PACKAGE_DIR / "configs" / "fraud.yaml"


def real_releases(*, quick: bool = False) -> list[dict]:
    """A stable version promoted, then the three releases, each against the version serving before it (``quick``:
    one canary step of 50 % judged for at most 20 s, which checks that the benchmark runs, not what it decides)."""
    variants = {"stable": {}, "good": {}, "errors": {}, "shifted": {"scale_pos_weight": 30}}
    home, versions, records = registered_models("ml_assets_release_bench_", variants)
    os.environ["ML_ASSETS_CHAOS"] = json.dumps({f"bench/{versions['errors'].version}": {"error_rate": 0.05}})
    plan = load_config(CONFIG).deployment.release_plan()
    if quick:
        plan = dataclasses.replace(plan, steps=(50, 100), bake_seconds=2.0, max_bake_seconds=20.0)
    platform = LocalServingPlatform(
        home=str(home), host="127.0.0.1", staging_port=free_port(), production_port=free_port()
    )
    backend = platform.backend("production")
    store = JsonStateStore(home / "rollouts")
    results = []
    try:
        engine = RolloutEngine(backend, store, clock=SystemClock(), plan=plan, environment="production")
        assert engine.release(versions["stable"]).status == PROMOTED
        for label in ("good", "errors", "shifted"):
            with BackgroundReplay(
                f"{backend.url}/predict", records, rate=100, max_seconds=plan.longest_seconds, max_requests=10**7
            ):
                time.sleep(5)
                started = time.monotonic()
                state = RolloutEngine(backend, store, clock=SystemClock(), plan=plan, environment="production").release(
                    versions[label]
                )
                minutes = (time.monotonic() - started) / 60
            results.append({"release": label, "status": state.status, "minutes": minutes, "reason": state.reason})
            print(f"{label}: {state.status} in {minutes:.1f} min: {state.reason}", flush=True)
            if state.status == PROMOTED:  # the next release compares with this one
                versions["stable"] = versions[label]
    finally:
        backend.stop_all()
        shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 50 %% step of at most 20 s: does it still run?")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; {CONFIG.name}'s plan, 100 requests/s replayed through the gateway")
    figures = {"cores": os.cpu_count(), "config": CONFIG.name, "real": real_releases(quick=args.quick)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
