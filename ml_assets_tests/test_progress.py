"""``ml-assets materialize``: a run followed in the real Dagster instance, one line per asset and check."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance

from ml_assets.progress import follow

pytestmark = pytest.mark.pipeline

DEFINITIONS = """
from dagster import (
    AssetCheckEvaluation, AssetCheckSeverity, AssetCheckSpec, BackfillPolicy, DailyPartitionsDefinition, Definitions,
    IOManager, Output, AssetCheckResult, asset, asset_check,
)


class Discard(IOManager):
    def handle_output(self, context, obj):
        pass

    def load_input(self, context):
        return None

DAYS = DailyPartitionsDefinition(start_date="2026-11-01")


@asset(
    partitions_def=DAYS,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec("positive", asset="daily", partitions_def=DAYS)],
    io_manager_key="discard",
)
def daily(context):
    yield Output(None)
    for day in context.partition_keys:
        yield AssetCheckEvaluation(
            asset_key=context.asset_key, check_name="positive", partition=day, passed=day != "2026-11-03",
            severity=AssetCheckSeverity.WARN, description=f"day {day}: negative amounts",
        )
    yield Output(None, output_name="daily_positive")


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset_check(asset=numbers, blocking=True)
def no_threes(numbers: list[int]) -> AssetCheckResult:
    threes = numbers.count(3)
    return AssetCheckResult(passed=threes == 0, description=f"{threes} rows hold a 3 (row 3)")


@asset
def total(numbers: list[int]) -> int:
    return sum(numbers)


@asset
def broken() -> int:
    raise ValueError("column AMOUNT is missing from day 2026-11-01")


@asset
def greeting() -> str:
    return "hello"


defs = Definitions(
    assets=[numbers, total, broken, greeting, daily], asset_checks=[no_threes], resources={"discard": Discard()}
)
"""


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, select: str, *extra: str) -> tuple[int, list[str], Path]:
    home = tmp_path / "dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    module = tmp_path / "toy_defs.py"
    module.write_text(DEFINITIONS)
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "asset", "materialize", "-f", str(module), "--select", select, *extra]
    lines: list[str] = []
    log = tmp_path / "logs" / "run.log"
    with DagsterInstance.get() as instance:
        code = follow(command, log, instance, write=lines.append, poll_seconds=0.2)
    return code, lines, log


def test_each_asset_and_check_gets_a_line_and_failures_are_shown_in_full(tmp_path, monkeypatch) -> None:
    code, lines, log = run(tmp_path, monkeypatch, "numbers,total")
    text = "\n".join(lines)
    assert code != 0  # the blocking check fails, so total is skipped and the CLI exits 1
    assert any(line.startswith("  ok    numbers") and line.endswith(" s") for line in lines)
    assert "  check numbers:no_threes" in text and "FAILED (ERROR)" in text and "1 rows hold a 3 (row 3)" in text
    assert "not materialized: total" in text
    assert lines[-2].startswith("run FAILED") or lines[-1].startswith("run FAILED")
    assert f"full Dagster log: {log}" in text
    assert "DEBUG" in log.read_text() or "STEP_START" in log.read_text()  # Dagster's own log, kept whole
    assert len(lines) < 15  # a person reads this, not thousands of events


def test_a_failing_asset_shows_its_error(tmp_path, monkeypatch) -> None:
    code, lines, _ = run(tmp_path, monkeypatch, "broken")
    text = "\n".join(lines)
    assert code != 0
    assert "  FAIL  broken" in text and "column AMOUNT is missing from day 2026-11-01" in text
    assert "run FAILED" in text and "1 steps failed" in text


def test_a_successful_run_summarizes_what_it_did(tmp_path, monkeypatch) -> None:
    code, lines, _ = run(tmp_path, monkeypatch, "greeting")
    assert code == 0 and lines[-1].startswith("run succeeded") and "1 assets materialized" in lines[-1]
    assert any(line.startswith("  ok    greeting") for line in lines)


def test_days_of_a_range_are_one_line_per_asset_and_check_and_a_failed_day_is_named(tmp_path, monkeypatch) -> None:
    code, lines, _ = run(tmp_path, monkeypatch, "daily", "--partition-range", "2026-11-01...2026-11-05")
    text = "\n".join(lines)
    assert code == 0, text
    assert sum(line.startswith("  ok    daily") for line in lines) == 1
    assert "5 days (2026-11-01..2026-11-05)" in text
    assert "check daily:positive" in text and "passed: 4 days" in text
    assert "FAILED (WARN)" in text and "day 2026-11-03: negative amounts" in text


def test_without_dagster_home_the_run_is_kept_in_the_state_folder(tmp_path, monkeypatch) -> None:
    """Plain `dagster asset materialize` would use a throwaway instance; ml-assets materialize keeps the run."""
    from ml_assets.progress import follow_in_instance

    monkeypatch.setenv("DAGSTER_HOME", "")  # unset as far as ml_assets reads it; restored after the test
    module = tmp_path / "toy_defs.py"
    module.write_text(DEFINITIONS)
    dagster = str(Path(sys.executable).parent / "dagster")
    home = tmp_path / "state" / "dagster"
    command = [dagster, "asset", "materialize", "-f", str(module), "--select", "greeting"]
    assert follow_in_instance(command, tmp_path / "run.log", default_home=home) == 0
    assert "telemetry" in (home / "dagster.yaml").read_text()
    with DagsterInstance.get() as instance:
        assert str(home) in str(instance.root_directory)
        assert len(instance.get_runs()) == 1


@pytest.mark.unit
def test_the_followed_run_is_the_commands_not_one_automation_started() -> None:
    from dagster import DagsterRun

    from ml_assets.progress import started_run_id

    with DagsterInstance.ephemeral() as instance:
        instance.add_run(DagsterRun(job_name="old", run_id="00000000-0000-0000-0000-000000000001"))
        known = {run.run_id for run in instance.get_runs()}
        assert started_run_id(instance, known) is None
        instance.add_run(
            DagsterRun(
                job_name="retraining",
                run_id="00000000-0000-0000-0000-000000000002",
                tags={"dagster/sensor_name": "landing_sensor"},
            )
        )
        assert started_run_id(instance, known) is None  # a sensor's run is not ours
        instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id="00000000-0000-0000-0000-000000000003"))
        assert started_run_id(instance, known) == "00000000-0000-0000-0000-000000000003"
