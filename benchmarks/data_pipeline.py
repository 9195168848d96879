"""Data-stage speed at the handbook's reference size (5,000 customers, 10,000 terminals, 183 days, ~1.75 M
transactions): generation (simulate, then also writing the daily Parquet files), loading every landing file to the
schema, validation with the Great Expectations suite, and the features. Medians of --repeats runs.

Validation is timed as a scheduled run pays it, in a new process: importing Great Expectations and running the
suite (with its Data Docs) on the loaded records, which the process first reads from Parquet (untimed); the import
alone and a second run of the suite in the same process (warm) are printed beside it.

    .venv/bin/python benchmarks/data_pipeline.py [--repeats 3] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ml_assets.config import load_config
from ml_assets.data.expectations import plan_suite
from ml_assets.data.schema import concat_sources, conform
from ml_assets.features import build_features
from ml_assets.resources.landing import LandingFolder
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate import SimulationSpec, simulate_days

DAYS, QUICK_DAYS = 183, 20


def spec(days: int) -> SimulationSpec:
    return SimulationSpec(customers=5000, terminals=10000, start=dt.date.today() - dt.timedelta(days=days), days=days)


def _median(label: str, fn: Callable[[], object], repeats: int, times: dict[str, list[float]]) -> object:
    runs, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    times[label] = runs
    print(f"{label:<40} median {statistics.median(runs):6.2f} s  (runs {', '.join(f'{t:.2f}' for t in runs)})")
    return result


def validate_in_new_process(records: str, reports: str) -> dict[str, float]:
    """The child: read the records (untimed), then import GE and run the suite (cold), then run it again (warm)."""
    frame = pd.read_parquet(records)
    schema = load_config(DEFAULT_CONFIG).data_schema
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    plan = plan_suite(schema, now)
    started = time.perf_counter()
    import great_expectations  # noqa: F401

    from ml_assets.resources.reports import ReportStore
    from ml_assets.resources.validation import GreatExpectationsValidator

    imported = time.perf_counter()
    validator = GreatExpectationsValidator(reports=ReportStore(location=reports))
    outcomes, _ = validator.validate(frame, plan, suite_name="bench", id_column=schema.id_column)
    cold = time.perf_counter()
    if not all(o.success for o in outcomes):
        raise SystemExit("the simulated data failed validation")
    validator.validate(frame, plan, suite_name="bench_warm", id_column=schema.id_column)
    warm = time.perf_counter()
    return {"import": imported - started, "cold": cold - started, "warm": warm - cold, "expectations": len(plan)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DAYS} days, one run of each stage")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--validate", nargs=2, help=argparse.SUPPRESS)  # the child: records file, reports folder
    args = parser.parse_args()
    if args.validate:
        print(json.dumps(validate_in_new_process(*args.validate)))
        return
    days, repeats = (QUICK_DAYS, 1) if args.quick else (DAYS, args.repeats)
    config = load_config(DEFAULT_CONFIG)
    schema = config.data_schema
    print(f"cores: {os.cpu_count()}")
    times: dict[str, list[float]] = {}
    frames = _median("generate", lambda: list(simulate_days(spec(days))), repeats, times)
    transactions = sum(len(f) for _, f in frames)
    print(f"{'':<40} {transactions:,} transactions")
    with tempfile.TemporaryDirectory() as tmp:
        landing = LandingFolder(path=tmp)

        def generate_and_write() -> None:
            for date, frame in simulate_days(spec(days)):
                landing.write(frame, f"transactions_{date:%Y-%m-%d}.parquet")

        _median("generate_and_write", generate_and_write, repeats, times)

        def load() -> pd.DataFrame:
            return concat_sources([(p.name, conform(landing.read(p.name)[0], schema, p.name)) for p in landing.files()])

        raw = _median("load", load, repeats, times)
        records = os.path.join(tmp, "records.parquet")
        raw.to_parquet(records)
        validations = []
        for _ in range(repeats):
            command = [sys.executable, __file__, "--validate", records, os.path.join(tmp, "reports")]
            answer = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            validations.append(json.loads(answer.strip().splitlines()[-1]))
        for part in ("import", "cold", "warm"):
            times[f"validate_{part}"] = [v[part] for v in validations]
        cold = statistics.median(times["validate_cold"])
        print(f"{'validate: GE import + suite (new process)':<40} median {cold:6.2f} s")
        built = _median("features", lambda: build_features(raw, config), repeats, times)
    figures = {
        "cores": os.cpu_count(),
        "days": days,
        "transactions": transactions,
        "expectations": validations[0]["expectations"],
        "features": len(built.feature_columns),
        "times": times,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
