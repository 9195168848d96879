"""Serving speed, side by side on the same registered models and the same load generator, for each model kind:
in-process predict (the floor), our model server direct, through the gateway, and `mlflow models serve`
(1 worker, --env-manager local). Single records and batches of 100. Throughput at saturation (closed loop,
concurrency 16) and latency p50/p99 at a fixed 100 requests/s. All traffic goes to 127.0.0.1.

    .venv/bin/python benchmarks/serving.py [--seconds 8] [--kinds xgboost random_forest mlp]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from ml_assets.config import load_config
from ml_assets.features import build_features
from ml_assets.features.split import split_dataset
from ml_assets.resources.http import http
from ml_assets.resources.local_platform import LocalBackend, free_port
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.serving.replay import replay
from ml_assets.serving.scoring import Scorer
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.dataset import train_test

BIN = Path(sys.executable).parent
KIND_TO_ALGORITHM = {"xgboost": "xgboost", "random_forest": "random_forest", "mlp": "neural_network"}


def _wait(url: str, timeout: float = 120, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy; log: {log.read_text()[-3000:] if log else ''}")


def _start(stack: ExitStack, command: list[str], env: dict[str, str], health: str) -> None:
    path = Path(env["ML_ASSETS_HOME"]) / f"{Path(command[0]).name}-{len(os.listdir(env['ML_ASSETS_HOME']))}.log"
    log = path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    stack.callback(lambda: (process.terminate(), process.wait(timeout=15), log.close()))
    _wait(health, log=path)


def _data():
    config = load_config(DEFAULT_CONFIG)
    spec = SimulationSpec(customers=2000, terminals=4000, start=dt.date(2018, 4, 1), days=60, seed=1)
    frame = pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)
    built = build_features(frame, config)
    data = train_test(split_dataset(built, config.split), built.feature_columns, config)
    return config, data


def _measure(url: str, single: list, batch: list, seconds: float) -> dict[str, float]:
    out = {}
    for label, payload in (("single", single), ("batch100", batch)):
        saturated = asyncio.run(replay(url, payload, concurrency=16, max_requests=10**6, max_seconds=seconds))
        out[f"{label}_rps"] = saturated.summary()["throughput_rps"]
        out[f"{label}_ok"] = saturated.summary()["success_rate"]
        paced = asyncio.run(replay(url, payload, rate=100, max_requests=int(100 * seconds), max_seconds=seconds + 5))
        s = paced.summary()
        out[f"{label}_p50_ms"], out[f"{label}_p99_ms"] = s["p50_ms"], s["p99_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--kinds", nargs="+", default=list(KIND_TO_ALGORITHM))
    args = parser.parse_args()
    config, data = _data()
    records = [{k: float(v) for k, v in row.items()} for row in data.x_test.head(2000).to_dict(orient="records")]
    batches = [records[i : i + 100] for i in range(0, 1000, 100)]
    rows = []
    with tempfile.TemporaryDirectory() as home:
        tracking = f"sqlite:///{home}/mlflow.db"
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow starts `uvicorn` by name
            "ML_ASSETS_HOME": home,
            "MLFLOW_TRACKING_URI": tracking,
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",  # for `mlflow models serve` only; ours never unpickles
        }
        registry = MlflowRegistry(
            tracking_uri=tracking, artifact_root=f"{home}/artifacts", model_store=f"{home}/model_store"
        )
        for kind in args.kinds:
            algorithm = config.algorithms[KIND_TO_ALGORITHM[kind]]
            model = build_estimator(algorithm).fit(data.x_train, data.y_train)
            version = registry.log_model(
                experiment="bench",
                run_name=kind,
                model=model,
                registered_model_name=f"bench_{kind}",
                params={},
                metrics={},
                tags={},
                input_example=data.x_test.head(3),
            )
            loaded = registry.load_model(version.name, version.version)
            scorer = Scorer(
                loaded, list(data.x_test.columns), threshold=0.5, name=version.name, version=version.version
            )
            floor = {}
            for label, size in (("single", 1), ("batch100", 100)):
                matrix = scorer.matrix(records[:size])
                times = []
                for _ in range(200 if size == 1 else 50):
                    started = time.perf_counter()
                    scorer.score(matrix)
                    times.append(time.perf_counter() - started)
                floor[f"{label}_rps"] = 1 / statistics.median(times)
                floor[f"{label}_p50_ms"] = statistics.median(times) * 1000
                floor[f"{label}_p99_ms"] = float(np.percentile(times, 99)) * 1000
            rows.append((kind, "in-process predict (floor)", floor))
            with ExitStack() as stack:
                ours, gateway_port, mlflow_port = free_port(), free_port(), free_port()
                _start(
                    stack,
                    [str(BIN / "ml-assets"), "serve", "--model-uri", version.model_uri, "--port", str(ours)],
                    env,
                    f"http://127.0.0.1:{ours}/health",
                )
                backend = LocalBackend(Path(home), "production", host="127.0.0.1", port=gateway_port)
                _ = backend.token
                _start(
                    stack,
                    [str(BIN / "ml-assets"), "gateway", "--environment", "production", "--port", str(gateway_port)],
                    env,
                    f"http://127.0.0.1:{gateway_port}/health",
                )
                backend._admin(
                    "PUT",
                    "/variants/blue",
                    {"url": f"http://127.0.0.1:{ours}", "model": version.name, "version": version.version},
                )
                backend.set_weights({"blue": 100})
                _start(
                    stack,
                    [
                        str(BIN / "mlflow"),
                        "models",
                        "serve",
                        "-m",
                        version.model_uri,
                        "--env-manager",
                        "local",
                        "-p",
                        str(mlflow_port),
                        "-h",
                        "127.0.0.1",
                        "--workers",
                        "1",
                    ],
                    env,
                    f"http://127.0.0.1:{mlflow_port}/health",
                )
                rows.append(
                    (
                        kind,
                        "our server, direct",
                        _measure(f"http://127.0.0.1:{ours}/predict", records, batches, args.seconds),
                    )
                )
                rows.append(
                    (
                        kind,
                        "through the gateway",
                        _measure(f"http://127.0.0.1:{gateway_port}/predict", records, batches, args.seconds),
                    )
                )
                mlflow_single = [{"dataframe_records": [r]} for r in records]
                mlflow_batch = [{"dataframe_records": b} for b in batches]
                rows.append(
                    (
                        kind,
                        "mlflow models serve",
                        _measure(
                            f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_single, mlflow_batch, args.seconds
                        ),
                    )
                )
    print(f"cores: {os.cpu_count()}  (load generator on the same machine)")
    header = [
        "model",
        "path",
        "single rps (c=16)",
        "single p50 / p99 ms @100/s",
        "batch-100 rps (c=16)",
        "batch-100 p50 / p99 ms @100/s",
    ]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|")
    for kind, path, m in rows:
        print(
            f"| {kind} | {path} | {m['single_rps']:.0f} | {m['single_p50_ms']:.2f} / {m['single_p99_ms']:.2f} | "
            f"{m['batch100_rps']:.0f} | {m['batch100_p50_ms']:.2f} / {m['batch100_p99_ms']:.2f} |"
        )
    for kind in args.kinds:
        by_path = {path: m for k, path, m in rows if k == kind}
        ratio = by_path["through the gateway"]["single_rps"] / by_path["mlflow models serve"]["single_rps"]
        print(
            f"{kind}: gateway single-record throughput = {ratio:.1f}x mlflow models serve; "
            f"gateway p99 at 100/s = {by_path['through the gateway']['single_p99_ms']:.2f} ms"
        )
    print(json.dumps({"rows": [[k, p, m] for k, p, m in rows]}))


if __name__ == "__main__":
    main()
