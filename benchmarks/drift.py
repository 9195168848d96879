"""Drift on 500 k + 500 k records across every feature: ml_assets against Evidently's DataDriftPreset, like for like.
Reference: the first 500 k transactions' features; current: the next 500 k, from a simulation that drifts halfway
(amounts x1.3, new terminals, a card-testing pattern). `--rows 1000000` is the long run (`run_all.py --long`):
Evidently's six reports alone take six minutes there. Both tools are told every column is numerical, so they
use the same methods (KS up to 1,000 reference values, normed Wasserstein above it) and thresholds.

What is timed, on both sides, is the whole report a user gets: ours is `drift_report` (the statistics) and `render`
(the HTML page with its plots: the 8 most drifted features), as the drift_report asset runs them but without the
model's score drift and recent performance, which Evidently's preset does not compute either; Evidently's is
`Report([DataDriftPreset()]).run` and the snapshot's HTML (a plot per column). Each measurement runs in a new
process that first reads the two samples from Parquet (untimed):
- cold: importing the tool, then its first report (what a scheduled run pays in a fresh process);
- warm: the next reports in the same process.
Processes alternate between the tools (--processes each); medians. Also printed: the per-feature verdicts side by
side and the largest difference between the two statistics.

Run:  make bench-env && .venv-bench/bin/python benchmarks/drift.py [--rows 500000] [--processes 3] [--warm 1]
                                                              [--quick] [--json F]
(Evidently 0.7 needs pandas < 3.1, hence its own virtualenv.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 500_000
QUICK_ROWS = 100_000
PER_DAY = 9_700  # transactions a day from the simulation below
TOOLS = ("ml_assets", "evidently")


def data(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ml_assets.config import load_config
    from ml_assets.features.build import build_features
    from ml_assets.settings import DEFAULT_CONFIG
    from ml_assets.simulate.transactions import DriftSpec, SimulationSpec, simulate_days

    config = load_config(DEFAULT_CONFIG)
    start = dt.date(2026, 1, 1)
    # the reference rows end near day rows / PER_DAY; the drift starts a week later
    days, drift_day = math.ceil(2 * rows / PER_DAY) + 9, rows // PER_DAY + 7
    drift = DriftSpec(
        start=start + dt.timedelta(days=drift_day),
        amount_factor=1.3,
        new_terminals=2000,
        card_testing_customers_per_day=20,
    )
    spec = SimulationSpec(customers=5000, terminals=10_000, start=start, days=days, seed=42, drift=drift)
    raw = pd.concat([frame for _, frame in simulate_days(spec)], ignore_index=True)
    built = build_features(raw, config)
    frame = built.frame.sort_values(config.data_schema.timestamp_column, kind="stable")
    if len(frame) < 2 * rows:
        raise SystemExit(f"only {len(frame)} transactions simulated; need {2 * rows}")
    columns = built.feature_columns
    return (
        frame.iloc[:rows][columns].reset_index(drop=True),
        frame.iloc[rows : 2 * rows][columns].reset_index(drop=True),
    )


def ours(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    """Our whole report, as the drift_report asset makes it: the statistics and the HTML page with its plots."""
    from ml_assets.config import DriftConfig
    from ml_assets.monitoring.drift import drift_report
    from ml_assets.monitoring.report import render

    columns = list(reference.columns)
    report = drift_report(reference, current, columns, thresholds=DriftConfig().thresholds())
    page = render(
        report,
        reference=reference,
        current=current,
        reference_scores=None,
        current_scores=None,
        performance=None,
        title="drift benchmark",
    )
    verdicts = {f.feature: (f.method, f.statistic, f.drifted) for f in report.features}
    return {"verdicts": verdicts, "html_bytes": len(page)}


def evidently(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    """Evidently's whole report: DataDriftPreset run on the same columns, then its HTML."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(reference.columns))
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    page = snapshot.get_html_str(as_iframe=False)
    verdicts = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], float(config["threshold"]), float(metric["value"])
        p_value = "p_value" in method.lower() or "k-s" in method.lower() or "ks" in method.lower().split()
        verdicts[config["column"]] = (method, value, value <= threshold if p_value else value >= threshold)
    return {"verdicts": verdicts, "html_bytes": len(page)}


def child(tool: str, folder: Path, warm: int) -> dict:
    """One process: read the samples (untimed), then the cold report (import included) and ``warm`` more."""
    reference, current = (pd.read_parquet(folder / f"{name}.parquet") for name in ("reference", "current"))
    make = {"ml_assets": ours, "evidently": evidently}[tool]
    started = time.perf_counter()
    result = make(reference, current)
    cold = time.perf_counter() - started
    warm_times = []
    for _ in range(warm):
        started = time.perf_counter()
        make(reference, current)
        warm_times.append(time.perf_counter() - started)
    return {"cold": cold, "warm": warm_times, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=3, help="new processes per tool (cold runs)")
    parser.add_argument("--warm", type=int, default=1, help="warm runs in each process")
    parser.add_argument("--rows", type=int, default=ROWS, help="records in each sample")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} + {QUICK_ROWS:,} records")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.warm)))
        return
    try:
        import evidently  # noqa: F401
    except ImportError:
        raise SystemExit(
            "Evidently is not installed here: make bench-env, then run with .venv-bench/bin/python"
        ) from None
    rows = QUICK_ROWS if args.quick else args.rows
    reference, current = data(rows)
    runs: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
    with tempfile.TemporaryDirectory() as folder:
        reference.to_parquet(Path(folder, "reference.parquet"))
        current.to_parquet(Path(folder, "current.parquet"))
        for _ in range(args.processes):
            for tool in TOOLS:
                command = [sys.executable, __file__, "--child", tool, "--data", folder, "--warm", str(args.warm)]
                answer = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                runs[tool].append(json.loads(answer.strip().splitlines()[-1]))
    figures = {
        "cores": os.cpu_count(),
        "rows": rows,
        "features": len(reference.columns),
        "processes": args.processes,
        "warm_per_process": args.warm,
        "tools": {
            tool: {
                "cold_s": statistics.median(run["cold"] for run in runs[tool]),
                "warm_s": statistics.median(t for run in runs[tool] for t in run["warm"]),
                "cold_runs": [run["cold"] for run in runs[tool]],
                "warm_runs": [t for run in runs[tool] for t in run["warm"]],
                "html_bytes": runs[tool][0]["html_bytes"],
            }
            for tool in TOOLS
        },
        "verdicts": {tool: runs[tool][0]["verdicts"] for tool in TOOLS},
    }
    from tables import drift_table

    print(drift_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
