"""Model quality on the handbook's reference data and protocol, beside the published baselines.

Reference data: 5,000 customers, 10,000 terminals, 183 days from 2018-04-01 (~1.75 M transactions), simulated
with several seeds (the simulator is the handbook's, not its byte-identical output, so one seed is one draw).
Protocol: train 7 days from 2018-07-25, 7-day delay, test 7 days, known-compromised cards removed from test.

Rows on the same data: "handbook" is the handbook's 15 features with a random forest (100 trees, depth 20) and
XGBoost (50 trees, depth 3, learning rate 0.3) as reproduced here; "ml_assets" is what ml_assets/configs/fraud.yaml
trains (its feature set, algorithms and hyperparameters), through the same functions the Dagster assets call.

Printed: each seed's figures, then the medians over the seeds beside the published baselines.

    .venv/bin/python benchmarks/model_quality.py [--seeds 0 42 7] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import pandas as pd

from ml_assets.config import AlgorithmConfig, PipelineConfig, load_config, parse_config
from ml_assets.features import build_features
from ml_assets.features.split import split_dataset
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.dataset import evaluate, train_test

PUBLISHED = {  # Le Borgne et al., Fraud-Detection-Handbook, test week, after model selection
    "random_forest": "AP 0.678, CP@100 0.299",
    "xgboost": "AP 0.687, CP@100 0.303",
}
HANDBOOK_ALGORITHMS = {  # the handbook's setup as reproduced here
    "random_forest": AlgorithmConfig(
        kind="random_forest", params={"n_estimators": 100, "max_depth": 20, "n_jobs": -1, "random_state": 0}
    ),
    "xgboost": AlgorithmConfig(
        kind="xgboost",
        params={"n_estimators": 50, "max_depth": 3, "learning_rate": 0.3, "n_jobs": 2, "random_state": 0},
    ),
}


def _protocol(base: PipelineConfig, amount_profile: bool) -> PipelineConfig:
    raw = base.model_dump(by_alias=True, mode="json")
    raw["split"] = {
        "method": "time",
        "train_days": 7,
        "gap_days": 7,
        "test_days": 7,
        "train_start": "2018-07-25",
        "exclude_known_entities": True,
    }
    raw["features"]["amount_profile"] = amount_profile
    return parse_config(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 42, 7])
    parser.add_argument("--quick", action="store_true", help="one seed, 1,000 customers and 2,000 terminals")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    customers, terminals = (1000, 2000) if args.quick else (5000, 10000)
    base = load_config(args.config)
    setups = {
        "handbook": (_protocol(base, False), HANDBOOK_ALGORITHMS),
        "ml_assets": (_protocol(base, True), base.algorithms),
    }
    runs = []
    print(f"cores: {os.cpu_count()}")
    for seed in seeds:
        spec = SimulationSpec(customers=customers, terminals=terminals, start=dt.date(2018, 4, 1), days=183, seed=seed)
        transactions = pd.concat([frame for _, frame in simulate_days(spec)], ignore_index=True)
        for setup, (config, algorithms) in setups.items():
            features = build_features(transactions, config)
            data = train_test(split_dataset(features, config.split), features.feature_columns, config)
            for name, algorithm in algorithms.items():
                started = time.perf_counter()
                model = build_estimator(algorithm).fit(data.x_train, data.y_train)
                fit_seconds = time.perf_counter() - started
                metrics, _ = evaluate(model, data, config)
                run = {
                    "seed": seed,
                    "setup": setup,
                    "model": name,
                    "fit_seconds": fit_seconds,
                    "transactions": len(transactions),
                    "train_rows": len(data.x_train),
                    "test_rows": len(data.x_test),
                    **{k: metrics[k] for k in ("average_precision", "roc_auc", "card_precision")},
                }
                runs.append(run)
                print(
                    f"seed {seed:>3} {setup:<10}{name:<16} AP {run['average_precision']:.3f}  "
                    f"AUC {run['roc_auc']:.3f}  CP@100 {run['card_precision']:.3f}  "
                    f"({len(transactions):,} tx, {len(data.x_train):,} train / {len(data.x_test):,} test rows, "
                    f"fit {fit_seconds:.1f} s)",
                    flush=True,
                )
    figures = {"cores": os.cpu_count(), "seeds": seeds, "customers": customers, "published": PUBLISHED, "runs": runs}
    from tables import model_quality_table

    print(model_quality_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
