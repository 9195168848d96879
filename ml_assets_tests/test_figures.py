"""The README's figures are what benchmarks/figures.json holds, and the benchmarks still produce them.

Every table of figures in the README is a block rendered by benchmarks/tables.py from the JSON `make bench` writes;
a block edited by hand, or a JSON re-measured without re-rendering, fails here. The bench lane runs every benchmark
at its quick size (`benchmarks/run_all.py --quick`) and renders each block from what they wrote, so a benchmark
cannot stop producing a figure the README shows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"benchmarks_{name}"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tables = _module("tables")
run_all = _module("run_all")


@pytest.mark.unit
def test_every_readme_table_is_rendered_from_the_figures_it_names():
    figures = json.loads((ROOT / "benchmarks" / "figures.json").read_text())
    stale = tables.stale_blocks((ROOT / "README.md").read_text(), figures)
    assert not stale, f"README blocks differ from benchmarks/figures.json: {stale} (run benchmarks/tables.py)"


@pytest.mark.unit
def test_every_block_and_every_benchmark_has_its_place():
    readme = (ROOT / "README.md").read_text()
    in_readme = {match["name"] for match in tables.BLOCK.finditer(readme)}
    assert in_readme == set(tables.BLOCKS), "a renderer without its README block, or a block without a renderer"
    shown = {benchmark for benchmark, _ in tables.BLOCKS.values()} - {tables.ALL}
    assert shown == set(run_all.BENCHMARKS), "a benchmark whose figures no README table shows, or the reverse"
    figures = json.loads((ROOT / "benchmarks" / "figures.json").read_text())
    for name, entry in figures.items():
        assert not entry["commit"].endswith("+changes"), f"{name} was measured on uncommitted code"


@pytest.mark.unit
def test_a_stale_block_is_named_and_rendering_fixes_it():
    figures = json.loads((ROOT / "benchmarks" / "figures.json").read_text())
    readme = (ROOT / "README.md").read_text()
    name = next(iter(tables.BLOCK.finditer(readme)))["name"]
    start = readme.index(f"<!-- figures:{name} -->")
    edited = (
        readme[: start + len(f"<!-- figures:{name} -->\n")]
        + "| a figure typed by hand |\n"
        + readme[start + len(f"<!-- figures:{name} -->\n") :]
    )
    assert tables.stale_blocks(edited, figures) == [name]
    assert tables.stale_blocks(tables.rendered(edited, figures), figures) == []


@pytest.mark.bench
@pytest.mark.timeout(1800)
def test_every_benchmark_runs_at_its_quick_size_and_feeds_its_tables(tmp_path):
    quick = tmp_path / "quick.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--figures", str(quick)]
    subprocess.run(command, check=True, cwd=ROOT, timeout=1800)
    figures = json.loads(quick.read_text())
    assert set(figures) == set(run_all.quick_names())
    assert {run_all.BENCHMARKS[name].script for name in figures} == {b.script for b in run_all.BENCHMARKS.values()}
    for name, (benchmark, _) in tables.BLOCKS.items():
        if benchmark not in figures:  # a long benchmark whose script ran above at its usual size's quick one
            continue
        rendered = tables.block(name, figures)
        assert "nan" not in rendered.replace("nanos", ""), f"{name} has a figure that was not measured:\n{rendered}"
    # the figures a reader needs most: every server answered, and the gateway says where the time went
    for row in figures["serving"]["figures"]["rows"]:
        if row["path"] == "in-process predict (floor)":
            continue
        for measurement in ("single_saturated", "single_paced", "batch100_saturated", "batch100_paced"):
            assert row[measurement]["success_rate"] > 0, (row["model"], row["path"], measurement)
        if row["path"] == "through the gateway":
            assert {"model work", "gateway", "client and transport"} <= set(row["single_paced"]["tail"]), row
    # every release through real processes reached a verdict
    releases = figures["release_real"]["figures"]["real"]
    assert [r["release"] for r in releases] == ["good", "errors", "shifted"]
    assert all(r["status"] in ("promoted", "rolled_back") for r in releases), releases
