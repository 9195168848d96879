"""What orchestration costs: the data stages as a Dagster run against the same functions called directly.

Both sides do the same work on the same landing files (the reference size: 5,000 customers, 10,000 terminals,
183 days), each in a new process, timed from the process's start to its exit (imports included on both sides):
- Dagster: a run of today's graph for the whole history (raw_data with its blocking checks, data_profile,
  features; `dataset.partitions` off) through `execute_in_process` on a real SQLite instance, with the IO
  manager storing each asset and the next reading it back;
- direct: the functions those assets call, in order, in one script: read and conform every landing file, the Great
  Expectations suite with its Data Docs, the profile, the features, each result written with the IO manager's own
  writer.
What the difference holds: Dagster's import and the definitions, the run's planning and event log (materializations,
check evaluations), and the storage round trip between assets. Runs alternate (--repeats each); medians.

    .venv/bin/python benchmarks/orchestration.py [--repeats 3] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_DAYS = 30


def direct(home: str) -> None:
    """The direct side: the same stage functions the assets call, without Dagster's run."""
    import datetime as dt

    from ml_assets.config import load_config
    from ml_assets.data.expectations import plan_suite
    from ml_assets.data.profile import profile_frame
    from ml_assets.data.schema import concat_sources, conform
    from ml_assets.features import build_features
    from ml_assets.resources.io_manager import write_value
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.resources.reports import ReportStore
    from ml_assets.resources.storage import open_store
    from ml_assets.resources.validation import GreatExpectationsValidator
    from ml_assets.settings import DEFAULT_CONFIG

    config = load_config(DEFAULT_CONFIG)
    schema = config.data_schema
    landing = LandingFolder(path=str(Path(home, "landing", "fraud")))
    raw = concat_sources([(p.name, conform(landing.read(p.name)[0], schema, p.name)) for p in landing.files()])
    validator = GreatExpectationsValidator(reports=ReportStore(location=str(Path(home, "reports"))))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    outcomes, _ = validator.validate(
        raw, plan_suite(schema, now), suite_name=f"{config.name}_raw_data", id_column=schema.id_column
    )
    if not all(outcome.success for outcome in outcomes):
        raise SystemExit("the reference data failed validation")
    store = open_store(str(Path(home, "direct")))
    write_value(store, "raw_data", raw)
    write_value(store, "data_profile", profile_frame(raw, schema))
    write_value(store, "features", build_features(raw, config).frame)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""})
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DAYS} days, one run each")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--direct", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        direct(args.direct)
        return
    import data_scale

    repeats = 1 if args.quick else args.repeats
    frames = data_scale.simulate(**data_scale.REFERENCE)
    days = QUICK_DAYS if args.quick else data_scale.DAYS
    frames = frames[data_scale.DAYS - days :]
    transactions = sum(len(frame) for _, frame in frames[:days])
    runs: dict[str, list[float]] = {"dagster": [], "direct": []}
    with tempfile.TemporaryDirectory(prefix="orchestration-") as tmp:
        home = Path(tmp)
        data_scale.land(home, frames, first=0, last=days)
        dagster_run = [sys.executable, data_scale.__file__, "--child", str(home), "--whole"]
        for _ in range(repeats):
            shutil.rmtree(home / "dagster", ignore_errors=True)  # each run on a new instance, as the direct side
            runs["dagster"].append(timed(dagster_run))
            runs["direct"].append(timed([sys.executable, __file__, "--direct", str(home)]))
    medians = {side: statistics.median(times) for side, times in runs.items()}
    figures = {"cores": os.cpu_count(), "days": days, "transactions": transactions, "runs": runs}
    print(json.dumps(figures))
    print(
        f"Dagster {medians['dagster']:.1f} s vs direct {medians['direct']:.1f} s: "
        f"{medians['dagster'] / medians['direct']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
