"""The data plane at scale, side by side with the whole-history pipeline on the same simulated data.

Every measured run is a real Dagster run (the shipped fraud config, execute_in_process on an instance in a scratch
folder) in a child process of its own, so that its peak memory is its own; seconds are the run's, imports apart.
  1. reference size (5,000 customers, 10,000 terminals, ~9,600 transactions a day, 183 days):
     - the whole-history run of the data stages (raw_data, data_profile, features; dataset.partitions off) against
       the same 183 days as one single-run backfill of the daily partitions;
     - a NEW day (landing -> validated -> featurized) after 40 days of history and after 183 days, the same day
       file on both sides (repeated, alternating; medians);
  2. with --scale 10 instead: 50,000 customers, 100,000 terminals (~96,000 a day, ~17.5 M over 183 days): the
     whole-history run against a new day after 183 days (the history backfilled first in 30-day runs).
--quick measures the reference part on 40 days (a new day after 10 and after 40), one run each.

    .venv/bin/python benchmarks/data_scale.py [--scale 10] [--repeats 3] [--quick] [--json FILE] [--postgres URL]

--postgres postgresql+psycopg2://USER@HOST:PORT/DB keeps the runs' Dagster instance in that server (one database
per run's folder, created from DB) instead of the local SQLite instance, as deployed on AWS (RDS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAYS = 183
SHORT_HISTORY = 40
CHUNK_DAYS = 30
REFERENCE = {"customers": 5_000, "terminals": 10_000}


def _raw_config(partitioned: bool) -> dict:
    from ml_assets.config import merged, read_raw
    from ml_assets.settings import DEFAULT_CONFIG

    raw = read_raw(DEFAULT_CONFIG)
    return merged(raw, {"dataset": {"partitions": raw["dataset"]["partitions"] if partitioned else None}})


def _instance_yaml(home: str, postgres: str | None) -> str:
    """The local instance's settings; with ``postgres``, its storage in a database of its own on that server."""
    from ml_assets.settings import PACKAGE_DIR

    text = (PACKAGE_DIR / "instance.yaml").read_text()
    if not postgres:
        return text
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(postgres)
    database = "data_scale_" + hashlib.sha256(home.encode()).hexdigest()[:12]
    connection = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        cursor.execute(f"CREATE DATABASE {database}")
    connection.close()
    return text + f"\nstorage:\n  postgres:\n    postgres_url: {url.set(database=database).render_as_string(False)}\n"


def child(home: str, partitioned: bool, days: str | None, postgres: str | None = None) -> None:
    """One run in this process: the data stages over ``days`` (FIRST...LAST) or, unpartitioned, all files. Prints
    {"seconds", "peak_mb"} as JSON."""
    os.environ["ML_ASSETS_HOME"] = home
    from dagster import AssetKey, DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from ml_assets.config import parse_config
    from ml_assets.definitions import build_definitions
    from ml_assets.settings import load_settings

    config = parse_config(_raw_config(partitioned))
    defs = build_definitions(config, load_settings())
    instance_dir = Path(home, "dagster")
    instance_dir.mkdir(exist_ok=True)
    if not (instance_dir / "dagster.yaml").exists():  # a home's runs share one instance
        (instance_dir / "dagster.yaml").write_text(_instance_yaml(home, postgres))
    instance = DagsterInstance.from_config(str(instance_dir))
    if partitioned:
        first, last = days.split("...")
        job = defs.resolve_job_def("daily_data")
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    else:
        job = defs.resolve_job_def("retraining").get_subset(
            asset_selection={AssetKey(k) for k in ("raw_data", "data_profile", "features")}
        )
        tags = {}
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"the run failed: {[e.message for e in result.all_events if e.is_failure][:3]}")
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    """This process's own peak memory. Linux keeps ru_maxrss across fork and exec, so a child of the benchmark
    (which holds the simulated data) would report the parent's size; VmHWM belongs to this process's memory map."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


POSTGRES: str | None = None  # --postgres


def run_child(home: Path, *, partitioned: bool, days: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", str(home), "--partitioned" if partitioned else "--whole"]
    if days:
        command += ["--days", days]
    if POSTGRES:
        command += ["--postgres", POSTGRES]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""})
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def land(home: Path, frames: list, *, first: int, last: int) -> None:
    from ml_assets.resources.landing import LandingFolder

    landing = LandingFolder(path=str(home / "landing" / "fraud"))
    for date, frame in frames[first:last]:
        landing.write(frame, f"transactions_{date:%Y-%m-%d}.parquet")


def simulate(customers: int, terminals: int, days: int = DAYS) -> list:
    """``days`` of history up to yesterday, and today's as the new day."""
    from ml_assets.simulate import SimulationSpec, simulate_days

    start = dt.date.today() - dt.timedelta(days=days + 1)
    spec = SimulationSpec(customers=customers, terminals=terminals, start=start, days=days + 1, seed=7)
    return list(simulate_days(spec))


def day(frames: list, index: int) -> str:
    return f"{frames[index][0]:%Y-%m-%d}"


def backfill(home: Path, frames: list, *, first: int, last: int, chunk: int) -> list[dict]:
    """Validate and featurize days first..last-1, ``chunk`` days per run; the runs' figures."""
    runs = []
    for start in range(first, last, chunk):
        end = min(start + chunk, last) - 1
        runs.append(
            {
                "days": end - start + 1,
                **run_child(home, partitioned=True, days=f"{day(frames, start)}...{day(frames, end)}"),
            }
        )
    return runs


def new_days(homes: dict[str, Path], new_day: str, repeats: int) -> dict[str, list[dict]]:
    """The same new day's run in each home, alternating, ``repeats`` times (a re-run loads the day again)."""
    runs: dict[str, list[dict]] = {name: [] for name in homes}
    for _ in range(repeats):
        for name, home in homes.items():
            runs[name].append(run_child(home, partitioned=True, days=f"{new_day}...{new_day}"))
    return runs


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def reference(tmp: Path, repeats: int, days: int, short_history: int) -> dict:
    frames = simulate(**REFERENCE, days=days)
    transactions = sum(len(f) for _, f in frames[:days])
    whole, long, short = tmp / "whole", tmp / "days", tmp / "short"
    land(whole, frames, first=0, last=days)
    land(long, frames, first=0, last=days)
    full = [run_child(whole, partitioned=False)]
    one_run = [run_child(long, partitioned=True, days=f"{day(frames, 0)}...{day(frames, days - 1)}")]
    land(short, frames, first=days - short_history, last=days)
    backfill(short, frames, first=days - short_history, last=days, chunk=short_history)
    for home in (long, short):
        land(home, frames, first=days, last=days + 1)
    new = new_days({"short": short, "long": long}, day(frames, days), repeats)
    return {
        "transactions": transactions,
        "whole_history": full,
        "backfill_one_run": one_run,
        "new_day": new,
        "new_day_ratio": median(new["long"], "seconds") / median(new["short"], "seconds"),
        "backfill_vs_whole": median(one_run, "seconds") / median(full, "seconds"),
    }


def scaled(tmp: Path, scale: int, repeats: int) -> dict:
    frames = simulate(REFERENCE["customers"] * scale, REFERENCE["terminals"] * scale)
    transactions = sum(len(f) for _, f in frames[:DAYS])
    whole, days = tmp / f"whole{scale}", tmp / f"days{scale}"
    land(whole, frames, first=0, last=DAYS)
    full = [run_child(whole, partitioned=False)]
    shutil.rmtree(whole)
    land(days, frames, first=0, last=DAYS)
    history = backfill(days, frames, first=0, last=DAYS, chunk=CHUNK_DAYS)
    land(days, frames, first=DAYS, last=DAYS + 1)
    new = new_days({"new day": days}, day(frames, DAYS), repeats)["new day"]
    speedup = median(full, "seconds") / median(new, "seconds")
    return {
        "scale": scale,
        "transactions": transactions,
        "whole_history": full,
        "history": history,
        "new_day": new,
        "speedup": speedup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=0, help="measure at this multiple of the reference size instead")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="40 days, one run each (the reference part)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--postgres", help="keep the Dagster instance in this Postgres server (see above)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--partitioned", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--days", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.partitioned, args.days, args.postgres)
        return
    global POSTGRES
    POSTGRES = args.postgres
    print(f"cores: {os.cpu_count()}; Dagster instance: {'Postgres' if POSTGRES else 'SQLite (the local default)'}")
    days, short, repeats = (40, 10, 1) if args.quick else (DAYS, SHORT_HISTORY, args.repeats)
    figures = {
        "cores": os.cpu_count(),
        "instance": "postgres" if POSTGRES else "sqlite",
        "days": days,
        "short_history": short,
        "chunk_days": CHUNK_DAYS,
    }
    from tables import data_scale_10x_table, data_scale_table

    with tempfile.TemporaryDirectory(prefix="data_scale-") as tmp:
        if args.scale:
            figures["scale"] = args.scale
            figures[f"x{args.scale}"] = scaled(Path(tmp), args.scale, repeats)
            print(data_scale_10x_table(figures))
        else:
            figures["reference"] = reference(Path(tmp), repeats, days, short)
            print(data_scale_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
