"""Serving speed, side by side on the same registered models and the same load generator, for each model kind:
in-process predict (the floor), our model server direct, through the gateway, and `mlflow models serve`
(1 worker, --env-manager local). Single records and batches of 100. Throughput at saturation (closed loop,
concurrency 16: successful answers per second) and latency p50/p99 at a fixed 100 requests/s (open loop), each
with its success rate and errors; each run starts when the server has nothing left queued by the one before. The
load generator runs in a process of its own (benchmarks/load_generator.py);
for the gateway at 100 requests/s the slowest 1 % of answers is split by the Server-Timing they carry (model work,
model server, gateway, client and transport). All traffic goes to 127.0.0.1.

    .venv/bin/python benchmarks/serving.py [--saturated-seconds 3] [--paced-seconds 10] [--batch-seconds 5]
                                           [--kinds xgboost random_forest mlp]
                                           [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from load_generator import Load, generate
from local_servers import BIN, launch, scratch_env, wait

from ml_assets.config import load_config
from ml_assets.features import build_features
from ml_assets.features.split import split_dataset
from ml_assets.resources.http import http
from ml_assets.resources.local_platform import LocalBackend, free_port
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.serving.scoring import Scorer
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.dataset import train_test

KIND_TO_ALGORITHM = {"xgboost": "xgboost", "random_forest": "random_forest", "mlp": "neural_network"}


def simulated_data(days: int):
    config = load_config(DEFAULT_CONFIG)
    spec = SimulationSpec(customers=2000, terminals=4000, start=dt.date(2018, 4, 1), days=days, seed=1)
    frame = pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)
    built = build_features(frame, config)
    data = train_test(split_dataset(built, config.split), built.feature_columns, config)
    return config, data


@dataclass(frozen=True)
class Durations:
    """Seconds per measurement: saturation runs, single records at 100 requests/s (1,000 answers for a p99), batches
    at 100 requests/s."""

    saturated: float = 3.0
    paced_single: float = 10.0
    paced_batch: float = 5.0


def settle(url: str, body: bytes, timeout: float = 300) -> None:
    """Wait until the server has worked off what an earlier measurement left queued: a server that could not keep
    up (`mlflow models serve` with a random forest) still computes requests whose client gave up, and the next
    measurement would time its backlog. A 200 to one request, queued behind the backlog, says it is done (a shed
    request, a 503 or a 504, says the queue is still full)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http("POST", url, orjson.loads(body), timeout=max(1.0, deadline - time.monotonic()))[0] == 200:
                return
        except (OSError, HTTPException):  # refused or cut while overloaded
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} still busy after {timeout:.0f} s")


def _measure(url: str, single: list[bytes], batch: list[bytes], times: Durations) -> dict:
    """Saturation (closed loop, concurrency 16) and a fixed 100 requests/s, single records and batches, each on a
    server with nothing queued."""
    out = {}
    for label, bodies, paced_for in (("single", single, times.paced_single), ("batch100", batch, times.paced_batch)):
        settle(url, bodies[0])
        saturated = generate(Load(targets={url: 1}, seconds=times.saturated, concurrency=16), bodies)
        out[f"{label}_saturated"] = saturated.summary()
        settle(url, bodies[0])
        paced = generate(Load(targets={url: 1}, seconds=paced_for, rate=100), bodies)
        out[f"{label}_paced"] = {**paced.summary(), "tail": paced.tail()}
    return out


def paced_calls(call, seconds: float, rate: float = 100.0) -> list[float]:
    """Each call's duration (s), ``rate`` calls a second on a clock for ``seconds``, as a server sees requests."""
    times, due = [], time.perf_counter()
    for _ in range(int(rate * seconds)):
        due += 1 / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _floor(scorer: Scorer, records: list[dict], times: Durations) -> dict[str, dict]:
    """The model's own predict in this process, what no server can beat: back to back (calls per second; up to
    2,000 calls or 2 s) and at 100 calls/s (latency), as a server sees them, for as long as the servers' paced
    measurements."""
    out = {}
    for label, size, paced_for in (("single", 1, times.paced_single), ("batch100", 100, times.paced_batch)):
        matrix = scorer.matrix(records[:size])
        back_to_back, stop = [], time.perf_counter() + 2.0
        while len(back_to_back) < 2000 and time.perf_counter() < stop:
            started = time.perf_counter()
            scorer.score(matrix)
            back_to_back.append(time.perf_counter() - started)
        paced = paced_calls(lambda matrix=matrix: scorer.score(matrix), paced_for)
        common = {"errors": 0, "success_rate": 1.0}
        out[f"{label}_saturated"] = {
            **common,
            "requests": len(back_to_back),
            "ok_rps": 1 / statistics.median(back_to_back),
        }
        out[f"{label}_paced"] = {
            **common,
            "requests": len(paced),
            "p50_ms": statistics.median(paced) * 1000,
            "p99_ms": float(np.percentile(paced, 99)) * 1000,
        }
    return out


def register(registry: MlflowRegistry, kind: str, config, data):
    model = build_estimator(config.algorithms[KIND_TO_ALGORITHM[kind]]).fit(data.x_train, data.y_train)
    return registry.log_model(
        experiment="bench",
        run_name=kind,
        model=model,
        registered_model_name=f"bench_{kind}",
        params={},
        metrics={},
        tags={},
        input_example=data.x_test.head(3),
    )


def servers(stack: ExitStack, version, env: dict[str, str], home: str, *, mlflow: bool = True) -> dict[str, str]:
    """Our model server, the gateway in front of it and (``mlflow``) `mlflow models serve`, started side by side
    and healthy; their scoring URLs."""
    ours, gateway_port, mlflow_port = free_port(), free_port(), free_port()
    backend = LocalBackend(Path(home), "production", host="127.0.0.1", port=gateway_port)
    _ = backend.token  # written before the gateway starts, which reads it
    serve, gateway = [str(BIN / "ml-assets"), "serve"], [str(BIN / "ml-assets"), "gateway"]
    commands = {
        f"http://127.0.0.1:{ours}": [*serve, "--model-uri", version.model_uri, "--port", str(ours)],
        f"http://127.0.0.1:{gateway_port}": [*gateway, "--environment", "production", "--port", str(gateway_port)],
    }
    if mlflow:
        mlflow_serve = [str(BIN / "mlflow"), "models", "serve", "-m", version.model_uri, "--env-manager", "local"]
        options = ["-p", str(mlflow_port), "-h", "127.0.0.1", "--workers", "1"]
        commands[f"http://127.0.0.1:{mlflow_port}"] = [*mlflow_serve, *options]
    logs = {base: launch(stack, command, env) for base, command in commands.items()}
    for base, log in logs.items():
        wait(f"{base}/health", log=log)
    backend._admin(
        "PUT", "/variants/blue", {"url": f"http://127.0.0.1:{ours}", "model": version.name, "version": version.version}
    )
    backend.set_weights({"blue": 100})
    urls = {
        "our server, direct": f"http://127.0.0.1:{ours}/predict",
        "through the gateway": f"http://127.0.0.1:{gateway_port}/predict",
    }
    if mlflow:
        urls["mlflow models serve"] = f"http://127.0.0.1:{mlflow_port}/invocations"
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saturated-seconds", type=float, default=Durations.saturated, help="each saturated run")
    parser.add_argument("--paced-seconds", type=float, default=Durations.paced_single, help="single records, 100/s")
    parser.add_argument("--batch-seconds", type=float, default=Durations.paced_batch, help="batches at 100/s")
    parser.add_argument("--kinds", nargs="+", default=list(KIND_TO_ALGORITHM))
    parser.add_argument("--quick", action="store_true", help="2 s per measurement, 40 simulated days")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    times = (
        Durations(2.0, 2.0, 2.0)
        if args.quick
        else Durations(args.saturated_seconds, args.paced_seconds, args.batch_seconds)
    )
    config, data = simulated_data(days=40 if args.quick else 60)
    records = [{k: float(v) for k, v in row.items()} for row in data.x_test.head(2000).to_dict(orient="records")]
    ours_single = [orjson.dumps(r) for r in records]
    ours_batch = [orjson.dumps(records[i : i + 100]) for i in range(0, 1000, 100)]
    mlflow_single = [orjson.dumps({"dataframe_records": [r]}) for r in records]
    mlflow_batch = [orjson.dumps({"dataframe_records": records[i : i + 100]}) for i in range(0, 1000, 100)]
    rows = []
    with tempfile.TemporaryDirectory() as home:
        # pickles are for `mlflow models serve` only; ours never unpickles
        env = {**scratch_env(home), "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}
        registry = MlflowRegistry(
            tracking_uri=env["MLFLOW_TRACKING_URI"],
            artifact_root=f"{home}/artifacts",
            model_store=f"{home}/model_store",
        )
        for kind in args.kinds:
            version = register(registry, kind, config, data)
            loaded = registry.load_model(version.name, version.version)
            scorer = Scorer(
                loaded, list(data.x_test.columns), threshold=0.5, name=version.name, version=version.version
            )
            rows.append({"model": kind, "path": "in-process predict (floor)", **_floor(scorer, records, times)})
            with ExitStack() as stack:
                for path, url in servers(stack, version, env, home).items():
                    single, batch = (mlflow_single, mlflow_batch) if "mlflow" in path else (ours_single, ours_batch)
                    rows.append({"model": kind, "path": path, **_measure(url, single, batch, times)})
    figures = {"cores": os.cpu_count(), **asdict(times), "rows": rows}
    from tables import serving_table

    print(serving_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
