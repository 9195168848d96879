"""Where the serving tail came from: each cause measured, with and without its fix, side by side.

1. XGBoost's threads: the fraud config's booster (trained with n_jobs 2) predicting one record at 100 calls/s in
   this process, with 2 threads and with 1 (what a served booster uses, serving/scoring.py): each call's latency,
   and the CPU the process burned per second of wall time (OpenMP threads spin-wait after every call).
2. The garbage collector in a server: a real `ml-assets serve` and `ml-assets gateway` process, stopped where they
   would start serving (serving/process.py), counts the objects a full collection walks and times full
   collections before and after `gc.freeze()` (what the servers now do before serving).
3. The load generator's process: the same model server and gateway at 100 requests/s, the generator once inside
   this benchmark's process (its models, data and imports: the way benchmarks/serving.py measured before) and once
   in a process of its own (benchmarks/load_generator.py), alternating: p99 and max.
Rounds alternate the two sides of each comparison (--rounds); medians. All traffic goes to 127.0.0.1.

    .venv/bin/python benchmarks/serving_tail.py [--rounds 2] [--seconds 10] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def threads(booster, row: np.ndarray, nthread: int, seconds: float) -> dict:
    """One record at 100 calls/s with ``nthread`` threads: latency quantiles and CPU per wall second."""
    booster.set_param({"nthread": nthread})
    for _ in range(50):
        booster.inplace_predict(row)
    from serving import paced_calls

    cpu_before, wall_before = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    times = paced_calls(lambda: booster.inplace_predict(row), seconds)
    cpu_after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall_before
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * float(np.percentile(times, 99)),
        "cores_busy": cpu / wall,
    }


def heap(argv: list[str]) -> None:
    """The child for part 2: run the CLI up to where it would serve, then measure full collections."""
    import ml_assets.cli as cli

    def measure(app, *, host: str, port: int) -> None:
        def full_collections() -> float:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                gc.collect()
                times.append(time.perf_counter() - started)
            return 1000 * statistics.median(times)

        before = {"objects": len(gc.get_objects()), "full_collection_ms": full_collections()}
        gc.freeze()
        after = {"objects": len(gc.get_objects()), "full_collection_ms": full_collections()}
        print(json.dumps({"before_freeze": before, "after_freeze": after}))

    cli.run_server = measure  # the same process the command starts, stopped where it would serve
    cli.main(argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement at 100 calls or requests/s")
    parser.add_argument("--quick", action="store_true", help="one round of 2 s")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--heap", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.heap:
        heap(args.heap)
        return
    rounds, seconds = (1, 2.0) if args.quick else (args.rounds, args.seconds)

    import orjson
    from load_generator import Load, generate
    from local_servers import scratch_env
    from serving import register, servers, simulated_data

    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.serving.replay import replay

    config, data = simulated_data(days=40 if args.quick else 60)
    records = [{k: float(v) for k, v in row.items()} for row in data.x_test.head(2000).to_dict(orient="records")]
    figures: dict = {"cores": os.cpu_count(), "rounds": rounds, "seconds": seconds}
    with tempfile.TemporaryDirectory() as home, ExitStack() as stack:
        env = scratch_env(home)
        os.environ.update(env)
        registry = MlflowRegistry(
            tracking_uri=env["MLFLOW_TRACKING_URI"],
            artifact_root=f"{home}/artifacts",
            model_store=f"{home}/model_store",
        )
        version = register(registry, "xgboost", config, data)

        booster = registry.load_model(version.name, version.version).get_booster()
        row = data.x_test.head(1).to_numpy(dtype=np.float64)
        runs: dict[int, list[dict]] = {2: [], 1: []}
        for _ in range(rounds):
            for nthread in runs:
                runs[nthread].append(threads(booster, row, nthread, seconds))
        figures["threads"] = {str(n): runs[n] for n in runs}

        commands = {  # the port is never bound: the child stops where it would serve
            "model server": ["serve", "--model-uri", version.model_uri, "--port", "8"],
            "gateway": ["gateway", "--environment", "production", "--port", "8"],
        }
        figures["heap"] = {}
        for name, argv in commands.items():
            child = [sys.executable, __file__, "--heap", *argv]
            answer = subprocess.run(child, env=env, check=True, capture_output=True, text=True).stdout
            figures["heap"][name] = json.loads(answer.strip().splitlines()[-1])

        url = servers(stack, version, env, home, mlflow=False)["through the gateway"]
        bodies = [orjson.dumps(r) for r in records]
        sides: dict[str, list[dict]] = {"in the benchmark's process": [], "in a process of its own": []}
        for _ in range(rounds):
            paced = replay(url, records, rate=100, max_requests=int(100 * seconds), max_seconds=seconds + 5)
            inside = asyncio.run(paced)
            latencies = np.asarray(inside.latencies_ms)
            sides["in the benchmark's process"].append(
                {
                    "requests": inside.sent,
                    "errors": inside.failed,
                    "p99_ms": float(np.percentile(latencies, 99)),
                    "max_ms": float(latencies.max()),
                }
            )
            own = generate(Load(targets={url: 1}, seconds=seconds, rate=100), bodies).summary()
            sides["in a process of its own"].append({k: own[k] for k in ("requests", "errors", "p99_ms", "max_ms")})
        figures["generator"] = sides
    from tables import serving_tail_table

    print(serving_tail_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
