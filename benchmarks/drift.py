"""Drift on 1 M records across every feature: ml_assets against Evidently's DataDriftPreset on the same data.

Reference: the first 1 M transactions' features; current: the next 1 M, from a simulation that drifts halfway
(amounts x1.3, new terminals, a card-testing pattern). Both tools are told every column is numerical, so they
use the same methods (KS up to 1,000 reference values, normed Wasserstein above it) and thresholds.
Prints per-column verdicts side by side, the times (median of ours over repeats; Evidently once) and the ratio.

Run:  make bench-env && .venv-bench/bin/python benchmarks/drift.py   (Evidently 0.7 needs pandas < 3.1)
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time

import numpy as np
import pandas as pd

from ml_assets.config import DriftConfig, load_config
from ml_assets.features.build import build_features
from ml_assets.monitoring.drift import drift_report
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate.transactions import DriftSpec, SimulationSpec, simulate_days

ROWS = 1_000_000


def data() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    config = load_config(DEFAULT_CONFIG)
    start = dt.date(2026, 1, 1)
    drift = DriftSpec(
        start=start + dt.timedelta(days=110), amount_factor=1.3, new_terminals=2000, card_testing_customers_per_day=20
    )
    spec = SimulationSpec(customers=5000, terminals=10_000, start=start, days=215, seed=42, drift=drift)
    raw = pd.concat([frame for _, frame in simulate_days(spec)], ignore_index=True)
    built = build_features(raw, config)
    frame = built.frame.sort_values(config.data_schema.timestamp_column, kind="stable")
    if len(frame) < 2 * ROWS:
        raise SystemExit(f"only {len(frame)} transactions simulated; need {2 * ROWS}")
    columns = built.feature_columns
    return (
        frame.iloc[:ROWS][columns].reset_index(drop=True),
        frame.iloc[ROWS : 2 * ROWS][columns].reset_index(drop=True),
        columns,
    )


def evidently_verdicts(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> tuple[dict, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    verdicts = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], float(config["threshold"]), float(metric["value"])
        p_value = "p_value" in method.lower() or "k-s" in method.lower() or "ks" in method.lower().split()
        verdicts[config["column"]] = (method, value, value <= threshold if p_value else value >= threshold)
    return verdicts, seconds


def main() -> None:
    reference, current, columns = data()
    print(
        f"{len(reference):,} reference and {len(current):,} current rows x {len(columns)} features; "
        f"{os.cpu_count()} cores"
    )
    times = []
    for _ in range(5):
        started = time.perf_counter()
        ours = drift_report(reference, current, columns, thresholds=DriftConfig().thresholds())
        times.append(time.perf_counter() - started)
    ours_seconds = statistics.median(times)
    try:
        theirs, theirs_seconds = evidently_verdicts(reference, current, columns)
    except ImportError:
        raise SystemExit(
            "Evidently is not installed here: make bench-env, then run with .venv-bench/bin/python"
        ) from None
    agree = 0
    print(f"\n{'feature':<42}{'ours':>24}{'Evidently':>30}")
    for feature in ours.features:
        method, value, drifted = theirs.get(feature.feature, ("?", float("nan"), None))
        same = drifted == feature.drifted
        agree += same
        mine = f"{feature.method:>12} {feature.statistic:8.4f} {'drift' if feature.drifted else '-':>5}"
        other = f"{method[:14]:>16} {value:8.4f} {'drift' if drifted else '-':>5}"
        print(f"{feature.feature:<42}{mine}{other}  {'' if same else 'DIFFERENT'}")
    share_theirs = sum(1 for v in theirs.values() if v[2]) / max(len(theirs), 1)
    print(
        f"\nverdicts agree on {agree} of {len(ours.features)} features; share drifted: ours "
        f"{ours.share_drifted:.3f}, Evidently {share_theirs:.3f}"
    )
    print(
        f"ours: median {ours_seconds:.3f} s of {len(times)} (min {min(times):.3f}); Evidently: {theirs_seconds:.1f} s; "
        f"ratio {theirs_seconds / ours_seconds:.0f}x"
    )
    gaps = [abs(f.statistic - theirs[f.feature][1]) for f in ours.features if f.feature in theirs]
    print(f"largest difference between the two statistics: {max(gaps):.2e}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
