"""Does a server's latency depend on its share of the traffic? Two identical model servers behind the gateway.

The release analysis judges latency only where the canary carries at least the stable's load. This measures why:
one registered XGBoost model serves in both slots (blue and green) of a local gateway on 127.0.0.1, held-out-like
records are replayed at 100 requests/s, and green's weight is 5, 25 and then 50 %. Printed per weight and slot:
requests and the 10th/50th/90th percentile of the servers' own work time (Server-Timing, what the analysis
uses). Identical versions: any difference is the load, not the model.

    .venv/bin/python benchmarks/latency_under_load.py [--seconds 15] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="replay per weight")
    parser.add_argument("--quick", action="store_true", help="5 s per weight")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    from local_models import registered_models

    from ml_assets.resources.local_platform import LocalServingPlatform, free_port
    from ml_assets.serving.replay import BackgroundReplay

    home, versions, records = registered_models("ml_assets_latency_", {"same": {}})
    model = versions["same"]
    backend = LocalServingPlatform(
        home=str(home), host="127.0.0.1", staging_port=free_port(), production_port=free_port()
    ).backend("production")
    rows = []
    try:
        backend.launch("blue", model)
        backend.launch("green", model)
        for weight in (5, 25, 50):
            backend.set_weights({"blue": 100 - weight, "green": weight})
            started = time.time()
            with BackgroundReplay(f"{backend.url}/predict", records, rate=100, max_seconds=seconds, max_requests=10**6):
                time.sleep(seconds)
            for slot in ("blue", "green"):
                outcomes, _ = backend.outcomes(slot, started)
                served = outcomes.latency_ms[outcomes.status == 200]
                p10, p50, p90 = np.percentile(served, [10, 50, 90]) if len(served) else [float("nan")] * 3
                share = weight if slot == "green" else 100 - weight
                rows.append({"green_weight": weight, "slot": slot, "share": share, "requests": len(served)})
                rows[-1].update(p10_ms=p10, p50_ms=p50, p90_ms=p90)
    finally:
        backend.stop_all()
        shutil.rmtree(home, ignore_errors=True)
    figures = {"cores": os.cpu_count(), "seconds": seconds, "rate": 100, "rows": rows}
    from tables import latency_under_load_table

    print(latency_under_load_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
