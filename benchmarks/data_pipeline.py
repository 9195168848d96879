"""Data-stage speed at the handbook's reference size (5,000 customers, 10,000 terminals, 183 days, ~1.75 M
transactions): generation (simulate, then also writing the daily Parquet files), features, and validation
(loading every landing file to the schema plus the Great Expectations suite). Medians of --repeats runs.

    .venv/bin/python benchmarks/data_pipeline.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import pandas as pd

from ml_assets.config import load_config
from ml_assets.data.expectations import plan_suite
from ml_assets.data.schema import concat_sources, conform
from ml_assets.features import build_features
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.reports import ReportStore
from ml_assets.resources.validation import GreatExpectationsValidator
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate import SimulationSpec, simulate_days

SPEC = SimulationSpec(customers=5000, terminals=10000, start=dt.date.today() - dt.timedelta(days=183), days=183)


def _median(label: str, fn: Callable[[], object], repeats: int, goal: float) -> object:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{label:<40} median {median:6.2f} s  (goal < {goal:g} s; runs {', '.join(f'{t:.2f}' for t in times)})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = load_config(DEFAULT_CONFIG)
    schema = config.data_schema
    print(f"cores: {os.cpu_count()}")

    frames = _median("generate (simulate in memory)", lambda: list(simulate_days(SPEC)), args.repeats, 60)
    print(f"{'':<40} {sum(len(f) for _, f in frames):,} transactions")
    with tempfile.TemporaryDirectory() as tmp:
        landing = LandingFolder(path=tmp)

        def generate_and_write() -> None:
            for date, frame in simulate_days(SPEC):
                landing.write(frame, f"transactions_{date:%Y-%m-%d}.parquet")

        _median("generate + write 183 Parquet files", generate_and_write, args.repeats, 60)

        def load() -> pd.DataFrame:
            return concat_sources([(p.name, conform(landing.read(p.name)[0], schema, p.name)) for p in landing.files()])

        raw = _median("load + conform landing files", load, args.repeats, 10)
        validator = GreatExpectationsValidator(reports=ReportStore(location=os.path.join(tmp, "reports")))
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

        def validate() -> None:
            outcomes, _ = validator.validate(
                raw, plan_suite(schema, now), suite_name="bench", id_column=schema.id_column
            )
            assert all(o.success for o in outcomes)

        validator.validate(
            raw.head(1000), plan_suite(schema, now), suite_name="warmup", id_column=schema.id_column
        )  # GE import
        _median(f"validate (GE suite, {len(plan_suite(schema, now))} expectations)", validate, args.repeats, 10)
        built = _median(
            "features (fraud_handbook + amount profile)", lambda: build_features(raw, config), args.repeats, 60
        )
        print(f"{'':<40} {len(built.feature_columns)} features")


if __name__ == "__main__":
    main()
