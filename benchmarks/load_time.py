"""Code-location load time: `dagster definitions validate` on ml_assets against an empty Definitions,
side by side (alternating runs, medians). Heavy libraries are imported lazily so the location loads fast.

    .venv/bin/python benchmarks/load_time.py [--repeats 5] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import side_by_side

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    validate = [str(BIN / "dagster"), "definitions", "validate"]
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp, "empty_definitions.py")
        empty.write_text("from dagster import Definitions\n\ndefs = Definitions()\n")
        Path(tmp, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "ML_ASSETS_HOME": tmp, "DAGSTER_HOME": tmp}
        runs = side_by_side(
            {
                "empty Definitions": [*validate, "-f", str(empty)],
                "ml_assets.definitions": [*validate, "-m", "ml_assets.definitions"],
            },
            env,
            repeats,
        )
    medians = {name: statistics.median(times) for name, times in runs.items()}
    print(f"ratio: {medians['ml_assets.definitions'] / medians['empty Definitions']:.2f}x (goal <= 1.5x)")
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "repeats": repeats, "runs": runs}))


if __name__ == "__main__":
    main()
