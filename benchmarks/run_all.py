"""`make bench`: every benchmark, with its fixed seeds, one after another, into one JSON of figures.

Each benchmark runs as its own process (`python benchmarks/NAME.py --json FILE`) and its figures are stored in
benchmarks/figures.json under its name with the commit, the date, the core count, the command and the seconds it
took; benchmarks/tables.py then renders the README's tables from that file. Benchmarks not run keep their entry
(and the commit it names). The drift comparison needs Evidently, in .venv-bench (`make bench-env`).

    .venv/bin/python benchmarks/run_all.py                  # every benchmark but the long ones (README: how long)
    .venv/bin/python benchmarks/run_all.py --only serving drift
    .venv/bin/python benchmarks/run_all.py --long           # also the 10x data plane (about 15 min, 18 GB),
                                                            # drift on 1 M + 1 M records (about 7 min),
                                                            # a 10-minute flood and releases through real
                                                            # processes (about 5 min)
    .venv/bin/python benchmarks/run_all.py --quick --figures /tmp/quick.json   # small sizes: do they still run?
                                                            # (every script once)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIGURES = HERE / "figures.json"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


@dataclass(frozen=True)
class Benchmark:
    script: str
    args: tuple[str, ...] = ()
    evidently: bool = False  # runs in .venv-bench
    long: bool = False  # only with --long
    quick_args: tuple[str, ...] = ("--quick",)  # replace ``args`` in a quick run


BENCHMARKS: dict[str, Benchmark] = {
    "data_pipeline": Benchmark("data_pipeline.py"),
    "load_time": Benchmark("load_time.py"),
    "orchestration": Benchmark("orchestration.py"),
    "data_scale": Benchmark("data_scale.py"),
    "data_scale_10x": Benchmark("data_scale.py", ("--scale", "10"), long=True),
    "drift": Benchmark("drift.py", evidently=True),
    "drift_1m": Benchmark("drift.py", ("--rows", "1000000"), evidently=True, long=True),
    "model_quality": Benchmark("model_quality.py"),
    "release_decisions": Benchmark("release_decisions.py"),
    # minutes of the release plan's own clock (test_local_release runs such releases in the suite)
    "release_real": Benchmark("release_real.py", long=True),
    "serving": Benchmark("serving.py"),
    "serving_tail": Benchmark("serving_tail.py"),
    "latency_under_load": Benchmark("latency_under_load.py"),
    "flood": Benchmark("flood.py"),
    "flood_long": Benchmark("flood.py", ("--seconds", "600", "--canary-percent", "50"), long=True),
}


MEASURED = ("ml_assets", "benchmarks", "pyproject.toml", "requirements.lock", "requirements-bench.lock")


def commit() -> str:
    """The commit measured; '+changes' when the measured code differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    if head.returncode:
        return "unknown"
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", *MEASURED], capture_output=True, text=True, cwd=ROOT
    ).stdout
    changed = [line for line in changed.splitlines() if not line.endswith("benchmarks/figures.json")]
    return head.stdout.strip() + ("+changes" if changed else "")


def run(name: str, benchmark: Benchmark, *, quick: bool, measured: str) -> dict:
    """One benchmark in a process of its own; its entry for the JSON (``measured``: the commit)."""
    python = BENCH_PYTHON if benchmark.evidently else Path(sys.executable)
    if benchmark.evidently and not python.exists():
        raise SystemExit(f"{name} needs Evidently: run `make bench-env` first (it creates {python})")
    args = list(benchmark.quick_args if quick else benchmark.args)
    shown = " ".join([os.path.relpath(python, ROOT), f"benchmarks/{benchmark.script}", *args])
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "figures.json")
        print(f"\n== {name}: {shown}", flush=True)
        started = time.perf_counter()
        subprocess.run([str(python), str(HERE / benchmark.script), *args, "--json", str(out)], check=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        figures = json.loads(out.read_text())
    print(f"== {name}: {seconds:.0f} s", flush=True)
    return {
        "commit": measured,
        "date": dt.date.today().isoformat(),
        "cores": os.cpu_count(),
        "command": shown,
        "seconds": seconds,
        "long": benchmark.long,
        "figures": figures,
    }


def quick_names() -> list[str]:
    """What a quick run checks: every script once. A long benchmark whose script also runs at its usual size
    (data_scale.py, flood.py) has nothing more to check at a quick size; one whose script runs only as a long one
    (release_real.py) does."""
    usual = {b.script for b in BENCHMARKS.values() if not b.long}
    return [name for name, b in BENCHMARKS.items() if not b.long or b.script not in usual]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="these benchmarks only")
    parser.add_argument("--long", action="store_true", help="also the long benchmarks")
    parser.add_argument("--quick", action="store_true", help="the small sizes (checks that they run, not figures)")
    parser.add_argument("--figures", type=Path, default=FIGURES, help="the JSON to update")
    args = parser.parse_args()
    names = args.only or (
        quick_names() if args.quick else [n for n, b in BENCHMARKS.items() if args.long or not b.long]
    )
    if args.quick and args.figures.resolve() == FIGURES:
        parser.error("--quick figures are not the README's: give --figures another file")
    figures = json.loads(args.figures.read_text()) if args.figures.exists() else {}
    measured = commit()
    started = time.perf_counter()
    for name in names:
        figures[name] = run(name, BENCHMARKS[name], quick=args.quick, measured=measured)
        if commit() != measured:  # the code changed under the run: these figures describe no commit
            raise SystemExit(f"the measured code changed during {name} (was {measured}, now {commit()})")
        args.figures.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")  # kept if a later one fails
    print(f"\n{len(names)} benchmarks in {(time.perf_counter() - started) / 60:.1f} min; figures in {args.figures}")


if __name__ == "__main__":
    main()
