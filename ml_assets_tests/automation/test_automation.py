"""Retraining triggers: decisions with their guardrails, and the sensors on a real Dagster instance."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
    job,
    op,
)

from ml_assets.automation.conditions import RETRAINING_TAG
from ml_assets.automation.triggers import RetrainingLoad, drift_decision, landing_decision, new_days_decision
from ml_assets.config import parse_config
from ml_assets.data.days import day_of
from ml_assets.definitions import build_definitions
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.metrics import LocalMetrics
from ml_assets.settings import Settings
from ml_assets_tests.aws_fixtures import REGION, client
from ml_assets_tests.conftest import small_fraud_raw

FILES = {"a.parquet": "1", "b.parquet": "1"}


@pytest.mark.unit
def test_the_first_look_is_the_baseline() -> None:
    decision = landing_decision(None, FILES, now=100.0, debounce_seconds=0, load=RetrainingLoad(0, 0, 3))
    assert not decision.run and decision.reason.startswith("baseline: 2 landing files")
    again = landing_decision(decision.cursor, FILES, now=200.0, debounce_seconds=0, load=RetrainingLoad(0, 0, 3))
    assert not again.run and again.reason == "no new or changed landing files"


@pytest.mark.unit
def test_new_and_changed_files_wait_for_quiet_then_run_once() -> None:
    cursor = landing_decision(None, FILES, now=100.0, debounce_seconds=60, load=RetrainingLoad(0, 0, 3)).cursor
    arriving = {**FILES, "c.parquet": "1"}
    waiting = landing_decision(cursor, arriving, now=110.0, debounce_seconds=60, load=RetrainingLoad(0, 0, 3))
    assert not waiting.run and "waiting until no file has changed for 60 s" in waiting.reason
    still = landing_decision(
        waiting.cursor, {**arriving, "d.parquet": "1"}, now=150.0, debounce_seconds=60, load=RetrainingLoad(0, 0, 3)
    )
    assert not still.run and "(quiet for 0 s)" in still.reason  # a second file restarted the wait
    ready = landing_decision(
        still.cursor, {**arriving, "d.parquet": "1"}, now=211.0, debounce_seconds=60, load=RetrainingLoad(0, 0, 3)
    )
    assert ready.run and ready.reason == "retraining on 2 new or changed files (c.parquet, d.parquet)"
    done = landing_decision(
        ready.cursor, {**arriving, "d.parquet": "1"}, now=300.0, debounce_seconds=60, load=RetrainingLoad(0, 0, 3)
    )
    assert not done.run  # the same files never trigger twice
    changed = landing_decision(
        done.cursor, {**arriving, "d.parquet": "2"}, now=400.0, debounce_seconds=0, load=RetrainingLoad(0, 0, 3)
    )
    assert changed.run and "d.parquet" in changed.reason and changed.run_key != ready.run_key


@pytest.mark.unit
def test_guardrails_one_at_a_time_and_a_daily_cap() -> None:
    assert "already queued or running" in RetrainingLoad(1, 0, 3).blocked()
    assert RetrainingLoad(0, 3, 3).blocked() == "daily cap reached: 3 retraining runs in the last 24 h (max 3)"
    cursor = landing_decision(None, FILES, now=100.0, debounce_seconds=0, load=RetrainingLoad(0, 0, 3)).cursor
    blocked = landing_decision(
        cursor, {**FILES, "c.parquet": "1"}, now=200.0, debounce_seconds=0, load=RetrainingLoad(1, 0, 3)
    )
    assert not blocked.run and "not starting: a retraining run is already queued or running" in blocked.reason
    later = landing_decision(
        blocked.cursor, {**FILES, "c.parquet": "1"}, now=300.0, debounce_seconds=0, load=RetrainingLoad(0, 1, 3)
    )
    assert later.run  # the files were not forgotten while blocked


@pytest.mark.unit
def test_each_drift_report_is_considered_once_and_only_severe_retrains() -> None:
    assert not drift_decision(None, None, load=RetrainingLoad(0, 0, 3)).run
    moderate = drift_decision(None, (10, "moderate"), load=RetrainingLoad(0, 0, 3))
    assert not moderate.run and "moderate drift, no retraining" in moderate.reason
    severe = drift_decision(moderate.cursor, (11, "severe"), load=RetrainingLoad(0, 0, 3))
    assert severe.run and severe.run_key == "drift-11"
    assert not drift_decision(severe.cursor, (11, "severe"), load=RetrainingLoad(0, 0, 3)).run


@pytest.fixture
def defs(settings: Settings):
    raw = small_fraud_raw(monitoring={"retraining": {"debounce_seconds": 0, "max_runs_per_day": 2}})
    return build_definitions(parse_config(raw), settings)


def sensor(defs, name: str):
    return next(s for s in defs.sensors if s.name == name)


@pytest.fixture(params=[pytest.param("folder", marks=pytest.mark.unit), pytest.param("s3", marks=pytest.mark.aws)])
def landing_location(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "folder":
        return settings.resolve_location("landing/fraud")
    endpoint = request.getfixturevalue("endpoint")
    client("s3", endpoint).create_bucket(Bucket="landing", CreateBucketConfiguration={"LocationConstraint": REGION})
    return "s3://landing/fraud/daily"


def test_the_landing_sensor_starts_a_run_per_new_or_changed_day(defs, landing_location: str) -> None:
    instance = DagsterInstance.ephemeral()
    landing = LandingFolder(path=landing_location)
    landing.write(pd.DataFrame({"x": [1]}), "transactions_2026-11-01.parquet")
    landing_sensor = sensor(defs, "landing_sensor")
    assert landing_sensor.job_name == "daily_data"
    context = build_sensor_context(instance=instance, resources={"landing": landing})
    first = landing_sensor(context)
    assert isinstance(first, SkipReason) and "baseline: 1 landing files" in first.skip_message
    landing.write(pd.DataFrame({"x": [2]}), "transactions_2026-11-02.parquet")
    landing.write(pd.DataFrame({"x": [3]}), "notes.csv")  # no day in its name: never read, and said so
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    (request,) = landing_sensor(context)
    assert request.partition_key == "2026-11-02" and request.tags["ml_assets/trigger"] == "new_data"
    # consecutive new days: one run over the range, so that each day's features find the day before stored
    for day in ("2026-11-03", "2026-11-04"):
        landing.write(pd.DataFrame({"x": [5]}), f"transactions_{day}.parquet")
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    (both,) = landing_sensor(context)
    assert both.partition_key is None
    assert (both.tags["dagster/asset_partition_range_start"], both.tags["dagster/asset_partition_range_end"]) == (
        "2026-11-03",
        "2026-11-04",
    )
    assert json.loads(context.cursor)["committed"].keys() == {
        "transactions_2026-11-01.parquet",
        "transactions_2026-11-02.parquet",
        "transactions_2026-11-03.parquet",
        "transactions_2026-11-04.parquet",
        "notes.csv",
    }
    # A corrected file is validated again (a new run key); an unchanged one never twice.
    landing.write(pd.DataFrame({"x": [4]}), "transactions_2026-11-01.parquet")
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    (again,) = landing_sensor(context)
    assert again.partition_key == "2026-11-01" and again.run_key != request.run_key
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    assert isinstance(landing_sensor(context), SkipReason)


@pytest.mark.unit
def test_without_partitions_new_files_start_retraining(settings: Settings) -> None:
    raw = small_fraud_raw(dataset={"partitions": None}, monitoring={"retraining": {"debounce_seconds": 0}})
    defs = build_definitions(parse_config(raw), settings)
    instance = DagsterInstance.ephemeral()
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    landing.write(pd.DataFrame({"x": [1]}), "a.parquet")
    landing_sensor = sensor(defs, "landing_sensor")
    context = build_sensor_context(instance=instance, resources={"landing": landing})
    assert isinstance(landing_sensor(context), SkipReason)
    landing.write(pd.DataFrame({"x": [2]}), "b.parquet")
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    request = landing_sensor(context)
    assert isinstance(request, RunRequest) and request.tags == {"ml_assets/trigger": "new_data", RETRAINING_TAG: "true"}
    assert landing_sensor.job_name == "retraining"


@pytest.mark.unit
def test_new_days_wait_for_quiet_and_name_files_without_a_day() -> None:
    def decide(cursor, files, now, last="2026-11-05"):
        return new_days_decision(cursor, files, now=now, debounce_seconds=60, day_of=day_of, days=("2026-01-01", last))

    files = {"transactions_2026-11-01.parquet": "1"}
    baseline = decide(None, files, 0.0)
    assert baseline.days == {} and baseline.reason.startswith("baseline")
    files = {
        **files,
        "transactions_2026-11-02.parquet": "1",
        "readme.txt.csv": "1",
        "transactions_2025-12-31.parquet": "1",  # before the first partition: named, never read
        "transactions_2026-11-06.parquet": "1",  # today's: waits for its day to end
    }
    waiting = decide(baseline.cursor, files, 10.0)
    assert waiting.days == {} and "quiet for 0 s" in waiting.reason
    ready = decide(waiting.cursor, files, 75.0)
    assert list(ready.days) == ["2026-11-02"]
    assert ready.unassigned == ["readme.txt.csv", "transactions_2025-12-31.parquet"]
    assert "ignored 1 file(s) with no day in their name: readme.txt.csv" in ready.reason
    assert "before the first partition 2026-01-01: transactions_2025-12-31.parquet" in ready.reason
    assert "wait for their day to end (last partition 2026-11-05): transactions_2026-11-06.parquet" in ready.reason
    later = decide(ready.cursor, files, 200.0, last="2026-11-06")  # the day has ended: now it is a partition
    assert list(later.days) == ["2026-11-06"]
    removed = {"transactions_2026-11-02.parquet": "1"}
    gone = decide(later.cursor, removed, 300.0, last="2026-11-06")
    assert gone.days == {}  # a removed file validates nothing


@pytest.mark.unit
def test_the_drift_sensor_retrains_on_a_severe_report(defs) -> None:
    instance = DagsterInstance.ephemeral()
    drift_sensor = sensor(defs, "drift_sensor")
    instance.report_runless_asset_event(AssetMaterialization("drift_report", metadata={"severity": "moderate"}))
    context = build_sensor_context(instance=instance)
    assert isinstance(drift_sensor(context), SkipReason)
    instance.report_runless_asset_event(AssetMaterialization("drift_report", metadata={"severity": "severe"}))
    context = build_sensor_context(instance=instance, cursor=context.cursor)
    request = drift_sensor(context)
    assert isinstance(request, RunRequest) and request.tags["ml_assets/trigger"] == "severe_drift"
    context = build_sensor_context(instance=instance, cursor=context.cursor)
    assert isinstance(drift_sensor(context), SkipReason)  # the same report never retrains twice


@pytest.mark.pipeline
def test_a_failed_run_raises_an_alert_metric_log_and_webhook(defs, tmp_path: Path, monkeypatch) -> None:
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ML_ASSETS_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/alerts")

    @op
    def breaks() -> None:
        raise RuntimeError("landing bucket unreachable")

    @job
    def fragile():
        breaks()

    instance = DagsterInstance.ephemeral()
    result = fragile.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    metrics = LocalMetrics(path=str(tmp_path / "metrics.db"))
    context = build_run_status_sensor_context(
        sensor_name="failure_alert", dagster_event=failure, dagster_instance=instance, dagster_run=result.dagster_run
    ).for_run_failure()
    try:
        sensor(defs, "failure_alert")(context, metrics=metrics)
    finally:
        server.shutdown()
        server.server_close()
    assert received and received[0]["job"] == "fragile" and received[0]["run_id"] == result.run_id
    assert "failed" in received[0]["text"]
    _, values = metrics.series("MLPipeline/fraud", "PipelineFailures", since=0, until=4e9)
    assert list(values) == [1.0]
