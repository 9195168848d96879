"""A flood against two model servers serving the same model (a good canary beside the stable version): batches of
1,000 records offered at 2,000 requests/s, open loop, by a load generator in a process of its own, split by weight
as the ALB splits it (90/10, then 50/50), while a prober asks each server's /health every 0.25 s.

Printed per canary weight: the rate offered and the rate the generator reached, each server's answers by status
(200, 503 shed with Retry-After, none within the client's 10 s, other), the latency of /health on the health port
(p50, p99, max, and how many probes took longer than the ALB's 5 s timeout), and the release analysis of the
flood's outcomes with the shipped margins: a good canary must not be shown worse because of the flood. All traffic
stays on 127.0.0.1; the machine's core count is printed.

    .venv/bin/python benchmarks/flood.py [--rate 2000] [--records 1000] [--seconds 20] [--canary-percent 10 50]
                                         [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from load_generator import Load, generate
from local_servers import BIN, scratch_env, start

from ml_assets.resources.local_platform import free_port

ALB_HEALTH_TIMEOUT_S = 5.0


class Prober:
    """Asks each server's /health every ``interval`` seconds until stopped; keeps every probe's latency."""

    def __init__(self, urls: list[str], interval: float = 0.25) -> None:
        self.urls, self.interval = urls, interval
        self.latencies: dict[str, list[float]] = {url: [] for url in urls}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._probe, args=(url,), daemon=True) for url in urls]

    def _probe(self, url: str) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=30) as answer:  # nosec B310  # loopback
                    answer.read()
                self.latencies[url].append(time.perf_counter() - started)
            except OSError:
                self.latencies[url].append(float("inf"))
            self.stop.wait(self.interval)

    def __enter__(self) -> Prober:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def register_model(home: str, tracking_uri: str) -> list[str]:
    """A trained XGBoost model registered twice (stable and canary: the same model); their model URIs."""
    import datetime as dt

    import pandas as pd

    from ml_assets.config import load_config
    from ml_assets.features import build_features
    from ml_assets.features.split import split_dataset
    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.settings import DEFAULT_CONFIG
    from ml_assets.simulate import SimulationSpec, simulate_days
    from ml_assets.training.algorithms import build_estimator
    from ml_assets.training.dataset import train_test

    config = load_config(DEFAULT_CONFIG)
    spec = SimulationSpec(customers=1000, terminals=2000, start=dt.date(2018, 4, 1), days=40, seed=1)
    frame = pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)
    built = build_features(frame, config)
    data = train_test(split_dataset(built, config.split), built.feature_columns, config)
    model = build_estimator(config.algorithms["xgboost"]).fit(data.x_train, data.y_train)
    registry = MlflowRegistry(
        tracking_uri=tracking_uri, artifact_root=f"{home}/artifacts", model_store=f"{home}/model_store"
    )
    uris = []
    for label in ("stable", "canary"):
        version = registry.log_model(
            experiment="flood",
            run_name=label,
            model=model,
            registered_model_name="flood",
            params={},
            metrics={},
            tags={},
            input_example=data.x_test.head(3),
        )
        uris.append(version.model_uri)
    records = [{k: float(v) for k, v in row.items()} for row in data.x_test.head(1000).to_dict(orient="records")]
    Path(home, "records.json").write_text(json.dumps(records))
    return uris


def start_server(stack: ExitStack, model_uri: str, slot: str, env: dict[str, str]) -> tuple[str, str]:
    """A model server; its URL and the URL of its health port (what the ALB asks)."""
    port, health = free_port(), free_port()
    command = [str(BIN / "ml-assets"), "serve", "--model-uri", model_uri, "--port", str(port), "--variant", slot]
    start(stack, [*command, "--health-port", str(health)], env, f"http://127.0.0.1:{health}/health")
    return f"http://127.0.0.1:{port}", f"http://127.0.0.1:{health}"


def analysis_of(results: list, config, percent: int) -> dict:
    """The release analysis of one look at the flood's outcomes (the whole flood as one step at ``percent``)."""
    from ml_assets.rollout.analysis import Comparison, analyze, split_alpha
    from ml_assets.rollout.evidence import ArmEvidence, Outcomes

    arms = []
    for target in (0, 1):
        rows = [r for r in results if r[0] == target]
        outcomes = Outcomes.from_columns(
            {
                "at": [r[1] for r in rows],
                "status": [r[2] for r in rows],
                "latency_ms": [r[3] for r in rows],
                "score": [r[4] for r in rows],
            }
        )
        arms.append(ArmEvidence.of(outcomes))
    plan = config.deployment.release_plan("canary")
    result = analyze(
        Comparison(arms[0], arms[1], arms[0], arms[1]),
        plan.analysis,
        alphas=split_alpha(plan.analysis.alpha, 1, 1),
        judge_latency=plan.judges_latency(percent),
    )
    return {"verdict": result.verdict.value, "reason": result.reason}


def probes(values: list[float]) -> dict:
    """The /health probes' latencies (ms; a probe with no answer counts as infinitely slow)."""
    finite = np.asarray([v for v in values if np.isfinite(v)])
    return {
        "probes": len(values),
        "p50_ms": 1000 * float(np.percentile(finite, 50)) if len(finite) else None,
        "p99_ms": 1000 * float(np.percentile(finite, 99)) if len(finite) else None,
        "max_ms": 1000 * max(values) if len(finite) == len(values) else None,
        "over_timeout": sum(1 for v in values if v > ALB_HEALTH_TIMEOUT_S),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests offered per second")
    parser.add_argument("--records", type=int, default=1000, help="records per request")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--canary-percent", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--quick", action="store_true", help="5 s per weight")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds

    from ml_assets.config import load_config
    from ml_assets.settings import DEFAULT_CONFIG

    config = load_config(DEFAULT_CONFIG)
    figures = {"cores": os.cpu_count(), "rate": args.rate, "records": args.records, "seconds": seconds, "weights": []}
    with tempfile.TemporaryDirectory() as home, ExitStack() as stack:
        env = scratch_env(home)
        uris = register_model(home, env["MLFLOW_TRACKING_URI"])
        records = json.loads(Path(home, "records.json").read_text())
        rng = np.random.default_rng(1)  # 20 batches of the test records in different orders
        bodies = [json.dumps([records[i] for i in rng.choice(len(records), args.records)]).encode() for _ in range(20)]
        servers = [start_server(stack, uri, slot, env) for uri, slot in zip(uris, ("blue", "green"), strict=True)]
        urls, health_urls = [url for url, _ in servers], [health for _, health in servers]
        for percent in args.canary_percent:
            load = Load(
                targets={f"{urls[0]}/predict": 100 - percent, f"{urls[1]}/predict": percent},
                seconds=seconds,
                rate=args.rate,
                first_score=True,
            )
            with Prober(health_urls) as prober:
                outcomes = generate(load, bodies)
            # the servers' own time where they answered (what the release analysis reads), else the client's wait
            latency = [row[4] if row[4] == row[4] else row[3] for row in outcomes.rows]
            results = [(row[0], row[1], row[2], ms, row[-1]) for row, ms in zip(outcomes.rows, latency, strict=True)]
            arms = {}
            for target, (url, slot) in enumerate(zip(health_urls, ("stable", "canary"), strict=True)):
                statuses = [r[2] for r in results if r[0] == target]
                ok, shed, lost = statuses.count(200), statuses.count(503), statuses.count(0)
                arms[slot] = {"ok": ok, "shed": shed, "no_answer": lost, "other": len(statuses) - ok - shed - lost}
                arms[slot]["health"] = probes(prober.latencies[url])
            weight = {"canary_percent": percent, "offered_rps": outcomes.offered_rps, "arms": arms}
            figures["weights"].append({**weight, "analysis": analysis_of(results, config, percent)})
    from tables import flood_table

    print(flood_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
