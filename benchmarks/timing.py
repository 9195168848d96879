"""Side-by-side timing of whole commands: alternate runs so machine noise hits every side alike, report medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import time


def side_by_side(commands: dict[str, list[str]], env: dict[str, str], repeats: int) -> dict[str, list[float]]:
    """Run each command ``repeats`` times, interleaved; print each side's runs and median; return the runs."""
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            runs[name].append(time.perf_counter() - started)
    print(f"cores: {os.cpu_count()}  repeats: {repeats}")
    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, times in runs.items():
        print(f"{name:<28} median {medians[name]:6.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
    return runs
