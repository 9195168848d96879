"""Does a server's latency depend on its share of the traffic? Two identical model servers behind the gateway.

The release analysis judges latency only where the canary carries at least the stable's load. This measures why:
one registered XGBoost model serves in both slots (blue and green) of a local gateway on 127.0.0.1, held-out-like
records are replayed at 100 requests/s, and green's weight is 5, 25 and then 50 %. Printed per weight and slot:
requests and the 10th/50th/90th percentile of the servers' own work time (Server-Timing, what the analysis
uses). Identical versions: any difference is the load, not the model.

    .venv/bin/python benchmarks/latency_under_load.py [--seconds 25]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=25.0, help="replay per weight")
    args = parser.parse_args()
    from local_models import registered_models

    from ml_assets.resources.local_platform import LocalServingPlatform, free_port
    from ml_assets.serving.replay import BackgroundReplay

    home, versions, records = registered_models("ml_assets_latency_", {"same": {}})
    model = versions["same"]
    backend = LocalServingPlatform(
        home=str(home), host="127.0.0.1", staging_port=free_port(), production_port=free_port()
    ).backend("production")
    print(f"cores: {os.cpu_count()}; one model in both slots; 100 requests/s for {args.seconds:g} s per weight")
    print("| green's weight | slot | requests | server time p10 / p50 / p90 (ms) |")
    print("|---|---|---|---|")
    try:
        backend.launch("blue", model)
        backend.launch("green", model)
        for weight in (5, 25, 50):
            backend.set_weights({"blue": 100 - weight, "green": weight})
            started = time.time()
            with BackgroundReplay(
                f"{backend.url}/predict", records, rate=100, max_seconds=args.seconds, max_requests=10**6
            ):
                time.sleep(args.seconds)
            for slot in ("blue", "green"):
                outcomes, _ = backend.outcomes(slot, started)
                served = outcomes.latency_ms[outcomes.status == 200]
                p10, p50, p90 = np.percentile(served, [10, 50, 90])
                share = weight if slot == "green" else 100 - weight
                print(f"| {weight} % | {slot} ({share} %) | {len(served)} | {p10:.2f} / {p50:.2f} / {p90:.2f} |")
    finally:
        backend.stop_all()


if __name__ == "__main__":
    main()
