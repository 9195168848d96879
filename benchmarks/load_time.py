"""Code-location load time: `dagster definitions validate` on ml_assets against an empty Definitions,
side by side (alternating runs, medians). Heavy libraries are imported lazily so the location loads fast.

    .venv/bin/python benchmarks/load_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "dagster"), "definitions", "validate", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp, "empty_definitions.py")
        empty.write_text("from dagster import Definitions\n\ndefs = Definitions()\n")
        env = {**os.environ, "ML_ASSETS_HOME": tmp, "DAGSTER_HOME": tmp}
        Path(tmp, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        ours, baseline = [], []
        for _ in range(args.repeats):
            baseline.append(_timed(["-f", str(empty)], env))
            ours.append(_timed(["-m", "ml_assets.definitions"], env))
    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"cores: {os.cpu_count()}  repeats: {args.repeats}")
    print(f"empty Definitions:      median {b:.2f} s  ({', '.join(f'{t:.2f}' for t in baseline)})")
    print(f"ml_assets.definitions:  median {o:.2f} s  ({', '.join(f'{t:.2f}' for t in ours)})")
    print(f"ratio: {o / b:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
