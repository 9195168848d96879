"""The README's tables of figures, rendered from benchmarks/figures.json (pure: JSON in, Markdown out).

Each block of the README between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` is generated here from the
entry NAME of the JSON that `make bench` writes (benchmarks/run_all.py), and opens with the commit, the date and the
core count it was measured on. `make test` fails when a block differs from what this module renders, so a figure
cannot go stale silently: re-measure (`make bench`, or `benchmarks/run_all.py --only NAME`) and the README follows.

    .venv/bin/python benchmarks/tables.py            # rewrite the README's blocks from benchmarks/figures.json
    .venv/bin/python benchmarks/tables.py --check    # exit 1 naming each block that differs
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALL = "*"  # a block drawn from every benchmark's entry
FIGURES = ROOT / "benchmarks" / "figures.json"
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- figures:(?P<name>[a-z_0-9]+) -->\n(?P<body>.*?)<!-- /figures:(?P=name) -->", re.DOTALL)


def _n(value: float, digits: int = 0) -> str:
    """A number with thousands separators, or '-' when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:,.0f}x" if slow / fast >= 10 else f"{slow / fast:.1f}x"


# -- one renderer per benchmark ---------------------------------------------------------------------------------


def drift_table(figures: dict) -> str:
    ours, theirs = figures["tools"]["ml_assets"], figures["tools"]["evidently"]
    mine, other = figures["verdicts"]["ml_assets"], figures["verdicts"]["evidently"]
    features = sorted(mine)
    agree = sum(mine[f][2] == other.get(f, (None, None, None))[2] for f in features)
    drifted = {tool: sum(1 for v in verdicts.values() if v[2]) for tool, verdicts in figures["verdicts"].items()}
    same_method = [f for f in features if f in other and "wasserstein" in other[f][0].lower()]
    gaps = [abs(mine[f][1] - other[f][1]) for f in same_method]
    close = sum(abs(mine[f][1] - other[f][1]) < 5e-5 for f in same_method)
    processes, warm = figures["processes"], figures["processes"] * figures["warm_per_process"]
    rows = [
        "| | ml_assets: `drift_report` + `render` (statistics, HTML page, 8 plots) "
        "| Evidently 0.7: `Report([DataDriftPreset()]).run` + HTML (a plot per column) | ratio |",
        "|---|---|---|---|",
        f"| cold: import, then the first report, in a new process (median of {processes}) "
        f"| **{ours['cold_s']:.2f} s** | {theirs['cold_s']:.1f} s | **{_ratio(theirs['cold_s'], ours['cold_s'])}** |",
        f"| warm: a report in a running process (median of {warm}) "
        f"| **{ours['warm_s']:.2f} s** | {theirs['warm_s']:.1f} s | **{_ratio(theirs['warm_s'], ours['warm_s'])}** |",
        f"| per-feature verdicts | {drifted['ml_assets']} of {len(features)} drifted "
        f"| {drifted['evidently']} of {len(other)} drifted | {agree} of {len(features)} agree |",
        f"| statistics | normed Wasserstein on every feature | where it uses Wasserstein too ({len(same_method)} "
        f"features): the same values within 5e-5 on {close}, largest gap {max(gaps):.2g}; Jensen-Shannon on the "
        f"others | |",
        f"| HTML page | {_n(ours['html_bytes'] / 1e3)} kB | {_n(theirs['html_bytes'] / 1e3)} kB | |",
    ]
    return (
        f"{_n(figures['rows'])} reference and {_n(figures['rows'])} current records x {figures['features']} features; "
        "each process reads the two samples from Parquet first (untimed).\n\n" + "\n".join(rows) + "\n"
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


PUBLISHED_BEST_AP = 0.687  # the handbook's best model (XGBoost) on its test week


def model_quality_table(figures: dict) -> str:
    seeds, runs = figures["seeds"], figures["runs"]
    cells = {(r["setup"], r["model"], r["seed"]): r for r in runs}
    pairs = list(dict.fromkeys((r["setup"], r["model"]) for r in runs))
    seed_names = " / ".join(str(s) for s in seeds)
    lines = [
        f"| model | setup | AP: median (seeds {seed_names}) | ROC AUC | CP@100 | fit s | published (handbook) |",
        "|---|---|---|---|---|---|---|",
    ]
    medians = {}
    for setup, model in pairs:
        per_seed = [cells[(setup, model, seed)] for seed in seeds]
        med = {
            k: _median([r[k] for r in per_seed])
            for k in ("average_precision", "roc_auc", "card_precision", "fit_seconds")
        }
        medians[(setup, model)] = med["average_precision"]
        aps = " / ".join(f"{r['average_precision']:.3f}" for r in per_seed)
        published = figures["published"].get(model, "-") if setup == "handbook" else ""
        lines.append(
            f"| {model} | {setup} | {med['average_precision']:.3f} ({aps}) | {med['roc_auc']:.3f} | "
            f"{med['card_precision']:.3f} | {med['fit_seconds']:.1f} | {published} |"
        )
    ours = max((m for m in medians.items() if m[0][0] == "ml_assets"), key=lambda m: m[1])
    handbook = max((m for m in medians.items() if m[0][0] == "handbook"), key=lambda m: m[1])
    verdict = "met" if ours[1] >= PUBLISHED_BEST_AP else "not met"
    lines += [
        "",
        f"- Best ml_assets model by median AP: **{ours[0][1]} {ours[1]:.3f}**, against the handbook's published best "
        f"{PUBLISHED_BEST_AP} (aim: at least as high: **{verdict}**) and the reproduced handbook's best on the same "
        f"data, {handbook[0][1]} {handbook[1]:.3f} ({ours[1] - handbook[1]:+.3f}).",
        f"- Data per seed: {figures['customers']:,} customers, "
        f"{_n(_median([r['transactions'] for r in runs]))} transactions (median), "
        f"{_n(_median([r['train_rows'] for r in runs]))} training and {_n(_median([r['test_rows'] for r in runs]))} "
        "test rows; fit s is the fit alone, on the shared 2 cores.",
    ]
    return "\n".join(lines) + "\n"


def _plan(name: str, plan: dict) -> str:
    steps = "/".join(f"{step:g}" for step in plan["steps"])
    return (
        f"{name}: {plan['strategy']} steps {steps} %, a look every {plan['bake_seconds']:g} s, "
        f"{plan['max_bake_seconds']:,.0f} s budget per step, {plan['requests_per_second']:g} requests/s; margins: "
        f"failure rate +{100 * plan['error_rate_margin']:g} points, latency p{100 * plan['latency_quantile']:g} "
        f"x{plan['latency_ratio_margin']:g}, scores KS {plan['score_ks_margin']:g}; alpha {plan['alpha']:g}"
    )


def release_simulated_table(figures: dict) -> str:
    parts = []
    for name in dict.fromkeys(r["config"] for r in figures["simulated"]):  # the order they ran in
        plan, results = figures["plans"][name], [r for r in figures["simulated"] if r["config"] == name]
        lines = [
            f"{_plan(name, plan)}; {results[0]['releases']} releases per scenario:",
            "",
            "| canary | rolled back (95 % interval) | of which shown worse | canary requests to decide (median) "
            "| time to decide (median) | promoted: time to 100 % (median) | 30-sample rule: rolled back |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in results:
            low, high = r["rolled_back_95"]
            promoted = "-" if r["promoted_minutes_median"] is None else f"{r['promoted_minutes_median']:.1f} min"
            lines.append(
                f"| {r['scenario']} | {r['rolled_back']:.1%} ({low:.1%}-{high:.1%}) | {r['shown_worse']:.1%} | "
                f"{r['canary_requests_to_decide_median']:,.0f} | {r['decision_minutes_median']:.1f} min | {promoted} | "
                f"{r['fixed_rule_rolled_back']:.1%} |"
            )
        by_name = {r["scenario"].split(" (")[0]: r for r in results}
        goals = [  # (scenario, goal on the rollback rate, met?)
            (
                "identical",
                "<= 1 %, upper bound <= 2 %",
                lambda r: r["rolled_back"] <= 0.01 and r["rolled_back_95"][1] <= 0.02,
            ),
            ("+2 points of errors", ">= 95 %", lambda r: r["rolled_back"] >= 0.95),
            ("+5 points of errors", ">= 99.5 %", lambda r: r["rolled_back"] >= 0.995),
            ("1.5x latency", ">= 99 %", lambda r: r["rolled_back"] >= 0.99),
            ("scores at PSI 0.25", ">= 99 %", lambda r: r["rolled_back"] >= 0.99),
        ]
        verdicts = []
        for scenario, goal, met in goals:
            r = by_name[scenario]
            verdicts.append(f"{scenario} {r['rolled_back']:.1%} ({goal}: {'met' if met(r) else 'NOT met'})")
        lines += ["", "Rolled back, against the goals: " + "; ".join(verdicts) + "."]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def release_real_table(figures: dict) -> str:
    lines = ["| release | verdict | time | reason |", "|---|---|---|---|"]
    for r in figures["real"]:
        reason = r["reason"].replace("|", "/")
        lines.append(f"| {r['release']} | {r['status']} | {r['minutes']:.1f} min | {reason} |")
    return "\n".join(lines) + "\n"


def _runs(times: list[float], digits: int = 2) -> str:
    return f"{_median(times):.{digits}f} s ({', '.join(f'{t:.{digits}f}' for t in times)})"


def stages_table(figures: dict) -> str:
    t = figures["times"]
    rows = [
        ("generate: simulate in memory", t["generate"], "< 60 s"),
        (f"generate: simulate and write {figures['days']} daily Parquet files", t["generate_and_write"], "< 60 s"),
        ("load: read and conform every landing file", t["load"], ""),
        (
            f"validate: a new process imports Great Expectations and runs the suite ({figures['expectations']} "
            "expectations, Data Docs)",
            t["validate_cold"],
            "< 10 s",
        ),
        ("&nbsp;&nbsp;of which importing Great Expectations", t["validate_import"], ""),
        ("validate again in the same process (warm)", t["validate_warm"], ""),
        (f"features: {figures['features']} features (handbook set + amount profile)", t["features"], "< 60 s"),
    ]
    lines = [
        f"| stage ({_n(figures['transactions'])} transactions in {figures['days']} days) | median (runs) | goal |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {_runs(times)} | {goal} |" for label, times, goal in rows]
    return "\n".join(lines) + "\n"


def load_time_table(figures: dict) -> str:
    empty, ours = figures["runs"]["empty Definitions"], figures["runs"]["ml_assets.definitions"]
    ratio = _median(ours) / _median(empty)
    return (
        "| `dagster definitions validate` | median (runs) |\n|---|---|\n"
        f"| an empty `Definitions` | {_runs(empty)} |\n"
        "| `-m ml_assets.definitions` (daily partitions, declared automation, catalog, every sensor) "
        f"| {_runs(ours)} |\n"
        f"\nThe code location loads in **{ratio:.3f}x** the time of an empty one "
        f"(goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}; {figures['repeats']} alternating runs each).\n"
    )


def orchestration_table(figures: dict) -> str:
    dagster, direct = figures["runs"]["dagster"], figures["runs"]["direct"]
    return (
        f"{_n(figures['transactions'])} transactions in {figures['days']} days, whole history; each run a new process, "
        "timed from start to exit:\n\n"
        "| side | seconds: median (runs) |\n|---|---|\n"
        "| Dagster: a run of raw_data (and its checks), data_profile, features on a SQLite instance "
        f"| {_runs(dagster, 1)} |\n"
        f"| direct: the same functions called in order, the same results written | {_runs(direct, 1)} |\n"
        f"\nOrchestration costs **{_median(dagster) / _median(direct):.2f}x** the direct calls "
        f"(+{_median(dagster) - _median(direct):.1f} s).\n"
    )


def _scale_row(label: str, partitions: str, runs: list[dict]) -> str:
    seconds = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    peak = max(r["peak_mb"] for r in runs) / 1024
    return f"| {label} | {partitions} | {_median([r['seconds'] for r in runs]):.1f} ({seconds}) | {peak:.2f} |"


def data_scale_table(figures: dict) -> str:
    ref, days = figures["reference"], figures["days"]
    lines = [
        f"{_n(ref['transactions'])} transactions in {days} days ({_n(ref['transactions'] / days)} a day):",
        "",
        "| run | partitions | seconds: median (runs) | peak memory GB |",
        "|---|---|---|---|",
        _scale_row("whole history, one batch (partitions off)", "none", ref["whole_history"]),
        _scale_row(f"backfill of the {days} days, one run", str(days), ref["backfill_one_run"]),
        _scale_row(f"a new day after {figures['short_history']} days of history", "1", ref["new_day"]["short"]),
        _scale_row(f"a new day after {days} days of history", "1", ref["new_day"]["long"]),
        "",
        f"- A new day after {days} days of history takes **{ref['new_day_ratio']:.2f}x** the time it takes after "
        f"{figures['short_history']} (goal <= 1.2x).",
        f"- The {days}-day backfill in one run takes **{ref['backfill_vs_whole']:.2f}x** the whole-history run "
        "(goal <= 1.10x).",
    ]
    return "\n".join(lines) + "\n"


def data_scale_10x_table(figures: dict) -> str:
    big, days = figures[f"x{figures['scale']}"], figures["days"]
    whole, new = big["whole_history"], big["new_day"]
    lines = [
        f"{figures['scale']}x: {_n(big['transactions'])} transactions in {days} days "
        f"({_n(big['transactions'] / days)} a day); the history backfilled first in runs of "
        f"{figures['chunk_days']} days:",
        "",
        "| run | partitions | seconds: median (runs) | peak memory GB |",
        "|---|---|---|---|",
        _scale_row("whole history, one batch (partitions off)", "none", whole),
        *(_scale_row(f"history backfill, run {i + 1}", str(r["days"]), [r]) for i, r in enumerate(big["history"])),
        _scale_row(f"a new day after {days} days of history", "1", new),
        "",
        f"- A new day takes **{big['speedup']:.1f}x** less time than the whole-history run on the same data "
        "(goal >= 20x).",
        f"- Its peak memory is **{max(r['peak_mb'] for r in new) / 1024:.2f} GB** (goal < 2 GB); the whole-history "
        f"run's {whole[0]['peak_mb'] / 1024:.2f} GB.",
    ]
    return "\n".join(lines) + "\n"


def latency_under_load_table(figures: dict) -> str:
    lines = [
        f"{figures['rate']} requests/s for {figures['seconds']:g} s per weight; one model in both slots:",
        "",
        "| green's weight | slot (share) | requests answered | server's own time p10 / p50 / p90 ms |",
        "|---|---|---|---|",
    ]
    for r in figures["rows"]:
        lines.append(
            f"| {r['green_weight']} % | {r['slot']} ({r['share']} %) | {_n(r['requests'])} | "
            f"{r['p10_ms']:.2f} / {r['p50_ms']:.2f} / {r['p90_ms']:.2f} |"
        )
    smallest = min(figures["rows"], key=lambda r: r["share"])
    beside = next(r for r in figures["rows"] if r["green_weight"] == smallest["green_weight"] and r is not smallest)
    lines += [
        "",
        f"At {smallest['share']} % of the traffic the same model's median work took "
        f"{smallest['p50_ms'] / beside['p50_ms']:.2f}x what it took at {beside['share']} %.",
    ]
    return "\n".join(lines) + "\n"


def serving_table(figures: dict) -> str:
    lines = [
        f"Saturation {figures['saturated']:g} s per run; at 100 requests/s, single records for "
        f"{figures['paced_single']:g} s and batches for {figures['paced_batch']:g} s, each run on a server with "
        "nothing left queued by the one before. The floor row is the model's own predict in the benchmark's process: "
        "calls per second back to back, latency at 100 calls/s for as long.",
        "",
        "| model | path | single: answers/s (c=16) | single p50 / p99 ms @100/s | batch-100: answers/s (c=16) "
        "| batch-100 p50 / p99 ms @100/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in figures["rows"]:
        cells = [
            _cell(row["single_saturated"], "rps"),
            _cell(row["single_paced"], "latency"),
            _cell(row["batch100_saturated"], "rps"),
            _cell(row["batch100_paced"], "latency"),
        ]
        lines.append(f"| {row['model']} | {row['path']} | " + " | ".join(cells) + " |")
    lines.append("")
    order = ("model work", "model server beyond the work", "beyond the model", "gateway", "client and transport")
    for kind in dict.fromkeys(row["model"] for row in figures["rows"]):
        by_path = {row["path"]: row for row in figures["rows"] if row["model"] == kind}
        gateway, mlflow = by_path["through the gateway"], by_path["mlflow models serve"]
        floor = by_path["in-process predict (floor)"]["single_paced"]
        ours, theirs = gateway["single_saturated"]["ok_rps"], mlflow["single_saturated"]["ok_rps"]
        ratio = f"{ours / theirs:.1f}x" if theirs else "all of"
        p99, tail = gateway["single_paced"]["p99_ms"], gateway["single_paced"]["tail"]
        parts = ", ".join(f"{name} {tail[name]:.2f}" for name in order if name in tail)
        lines.append(
            f"- {kind}: through the gateway, {ratio} the successful single-record answers of `mlflow models serve` "
            f"(goal >= 3x: {'met' if theirs and ours / theirs >= 3 else 'NOT met'}); p99 at 100 requests/s "
            f"**{p99:.2f} ms** (goal < 10 ms: {'met' if p99 < 10 else 'NOT met'}; the model's own predict at 100 "
            f"calls/s: p99 {floor['p99_ms']:.2f} ms); the slowest 1 % ({tail['requests']} answers), medians in ms: "
            f"{parts}."
        )
    return "\n".join(lines) + "\n"


def serving_tail_table(figures: dict) -> str:
    def med(runs: list[dict], key: str) -> float:
        return _median([run[key] for run in runs])

    two, one = figures["threads"]["2"], figures["threads"]["1"]
    heap, sides = figures["heap"], figures["generator"]
    rounds = f"medians of {figures['rounds']} alternating rounds of {figures['seconds']:g} s"
    lines = [
        f"| cause | without the fix | with it | ({rounds}) |",
        "|---|---|---|---|",
        f"| XGBoost's threads: one record at 100 calls/s, p99 / CPU | 2 threads: {med(two, 'p99_ms'):.2f} ms / "
        f"{med(two, 'cores_busy'):.2f} cores | 1 thread: {med(one, 'p99_ms'):.2f} ms / {med(one, 'cores_busy'):.2f} "
        "cores | p50 " + f"{med(two, 'p50_ms'):.2f} / {med(one, 'p50_ms'):.2f} ms |",
    ]
    for name, measured in heap.items():
        before, after = measured["before_freeze"], measured["after_freeze"]
        lines.append(
            f"| a full collection in the {name} process, ready to serve | {before['full_collection_ms']:.1f} ms "
            f"over {_n(before['objects'])} objects | {after['full_collection_ms']:.2f} ms after `gc.freeze()` | |"
        )
    inside, own = sides["in the benchmark's process"], sides["in a process of its own"]
    lines.append(
        f"| the load generator's process: the gateway at 100 requests/s, p99 / max | in the benchmark's: "
        f"{med(inside, 'p99_ms'):.2f} / {med(inside, 'max_ms'):.2f} ms | its own: {med(own, 'p99_ms'):.2f} / "
        f"{med(own, 'max_ms'):.2f} ms | errors {sum(r['errors'] for r in inside)} / {sum(r['errors'] for r in own)} |"
    )
    return "\n".join(lines) + "\n"


def _cell(summary: dict, figure: str) -> str:
    errors = f", {_n(summary['errors'])} errors" if summary["errors"] else ""
    if figure == "rps":
        return f"{summary['ok_rps']:,.0f} ({100 * summary['success_rate']:.1f} % ok{errors})"
    return f"{summary['p50_ms']:.2f} / {summary['p99_ms']:.2f} ({100 * summary['success_rate']:.1f} % ok{errors})"


def flood_table(figures: dict) -> str:
    lines = [
        f"Batches of {figures['records']:,} records offered at {figures['rate']:,.0f} requests/s for "
        f"{figures['seconds']:g} s per weight:",
        "",
        "| canary weight | requests/s sent | stable: 200 / 503 / no answer / other | canary: 200 / 503 / no answer "
        "/ other | /health max ms, stable / canary (probes over 5 s) | release analysis |",
        "|---|---|---|---|---|---|",
    ]
    for w in figures["weights"]:
        arms = w["arms"]
        counts = [
            " / ".join(_n(arms[s][k]) for k in ("ok", "shed", "no_answer", "other")) for s in ("stable", "canary")
        ]
        health = " / ".join(_n(arms[s]["health"]["max_ms"]) for s in ("stable", "canary"))
        over = sum(arms[s]["health"]["over_timeout"] for s in ("stable", "canary"))
        probes = sum(arms[s]["health"]["probes"] for s in ("stable", "canary"))
        lines.append(
            f"| {w['canary_percent']} % | {_n(w['offered_rps'])} | {counts[0]} | {counts[1]} | {health} "
            f"({over} of {_n(probes)}) | {w['analysis']['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def bench_total(figures: dict) -> str:
    """How long `make bench` takes: the sum of its benchmarks' times, when all were measured on the same commit."""
    names = [name for name, entry in figures.items() if not entry["long"]]
    commits = {figures[name]["commit"] for name in names}
    if len(commits) != 1:
        return f"(`make bench`'s benchmarks were measured on different commits: {', '.join(sorted(commits))})\n"
    minutes = sum(figures[name]["seconds"] for name in names) / 60
    long = ", ".join(name for name, entry in figures.items() if entry["long"])
    return (
        f"`make bench`'s {len(names)} benchmarks took **{minutes:.1f} min** in all on commit `{commits.pop()}` "
        f"(goal < 30 min: {'met' if minutes < 30 else 'NOT met'}); the long ones, {long}, run apart (`--long`).\n"
    )


# README block -> (the benchmark whose figures it shows, its renderer)
BLOCKS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "bench_total": (ALL, bench_total),
    "stages": ("data_pipeline", stages_table),
    "load_time": ("load_time", load_time_table),
    "orchestration": ("orchestration", orchestration_table),
    "data_scale": ("data_scale", data_scale_table),
    "data_scale_10x": ("data_scale_10x", data_scale_10x_table),
    "latency_under_load": ("latency_under_load", latency_under_load_table),
    "serving": ("serving", serving_table),
    "serving_tail": ("serving_tail", serving_tail_table),
    "flood": ("flood", flood_table),
    "flood_long": ("flood_long", flood_table),
    "drift": ("drift", drift_table),
    "drift_1m": ("drift_1m", drift_table),
    "model_quality": ("model_quality", model_quality_table),
    "release_decisions": ("release_decisions", release_simulated_table),
    "release_real": ("release_real", release_real_table),
}


# -- the README ---------------------------------------------------------------------------------------------------


def block(name: str, figures: dict) -> str:
    """One README block: where and when its figures were measured, then the renderer's Markdown."""
    if name not in BLOCKS:
        raise KeyError(f"README block {name!r} has no renderer in benchmarks/tables.py")
    benchmark, render = BLOCKS[name]
    if benchmark == ALL:
        return render(figures)
    if benchmark not in figures:
        raise KeyError(f"README block {name!r} has no figures: run benchmarks/run_all.py --only {benchmark}")
    entry = figures[benchmark]
    stamp = (
        f"*Measured on commit `{entry['commit']}` ({entry['date']}, {entry['cores']} cores, "
        f"{entry['seconds']:.0f} s): `{entry['command']}`*\n\n"
    )
    return stamp + render(entry["figures"])


def rendered(text: str, figures: dict) -> str:
    """``text`` with every block replaced by its rendering; a block with no figures or no renderer is an error."""
    return BLOCK.sub(
        lambda m: f"<!-- figures:{m['name']} -->\n{block(m['name'], figures)}<!-- /figures:{m['name']} -->", text
    )


def stale_blocks(text: str, figures: dict) -> list[str]:
    """The names of the README blocks that differ from their rendering (empty when every figure is current)."""
    fresh = {m["name"]: m["body"] for m in BLOCK.finditer(rendered(text, figures))}
    return [m["name"] for m in BLOCK.finditer(text) if fresh[m["name"]] != m["body"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    parser.add_argument("--figures", type=Path, default=FIGURES)
    args = parser.parse_args()
    figures, text = json.loads(args.figures.read_text()), README.read_text()
    stale = stale_blocks(text, figures)
    if args.check:
        if stale:
            sys.exit(f"README blocks differ from {args.figures}: {', '.join(stale)} (run benchmarks/tables.py)")
        return
    README.write_text(rendered(text, figures))
    print(f"rewrote {len(stale)} block(s): {', '.join(stale) or 'none'}")


if __name__ == "__main__":
    main()
