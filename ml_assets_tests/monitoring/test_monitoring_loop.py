"""The loop across time on a real Dagster instance: a baseline release; new days land and the landing sensor
retrains, updating the champion; drifted days from the simulator come in as production traffic, the drift report
says severe, the alarm goes off and the drift sensor starts a retraining."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ml_assets.automation.conditions import RETRAINING_TAG
from ml_assets.config import parse_config
from ml_assets.definitions import build_definitions
from ml_assets.features.build import build_features
from ml_assets.monitoring import catalog
from ml_assets.monitoring.alarms import alarms_of
from ml_assets.resources import build_resources
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.mlflow_registry import CHAMPION_ALIAS
from ml_assets.resources.platform import serving_platform
from ml_assets.serving.replay import replay
from ml_assets.settings import Settings
from ml_assets.simulate.transactions import DriftSpec, SimulationSpec, simulate_days
from ml_assets_tests.conftest import small_fraud_raw

DAYS, BASELINE_DAYS, NEW_DAYS = 80, 75, 3  # the last two days drift


def loop_config(settings: Settings):
    return parse_config(
        small_fraud_raw(
            schema={"max_age_days": 10},
            selection={"non_inferiority_margin": 0.5},  # this test is about the loop, not about model quality
            monitoring={
                "recent_days": 7,
                # The seed's alarm window shortened so that a test sees it: any breaching 2-second period of ten.
                "alarm_period_seconds": 2,
                "alarm_evaluation_periods": 5,
                "alarm_datapoints_to_alarm": 1,
                "drift": {"min_traffic": 200},
                # Retraining at every minute's tick (when days arrived since), so that the test sees one.
                "retraining": {"debounce_seconds": 0, "max_runs_per_day": 5, "schedule": "* * * * *"},
            },
        )
    )


def send_traffic(url: str, features: pd.DataFrame, columns: list[str], n: int, seed: int) -> None:
    """The clients: scored requests for featurized transactions, through the production gateway."""
    sample = features.sample(min(n, len(features)), random_state=seed)[columns]
    records = [{k: float(v) for k, v in row.items()} for row in sample.to_dict(orient="records")]
    result = asyncio.run(replay(f"{url}/predict", records, rate=400, max_requests=len(records), max_seconds=60))
    assert result.sent == len(records) and result.failed == 0


@pytest.mark.pipeline
def test_new_data_retrains_and_drift_raises_the_alarm_and_retrains(settings: Settings) -> None:
    config = loop_config(settings)
    defs = build_definitions(config, settings)
    instance = DagsterInstance.from_config(str(settings.home / "dagster"))
    resources = build_resources(settings, config)
    registry, landing, metrics = resources["registry"], resources["landing"], resources["metrics"]
    retraining, monitoring = defs.resolve_job_def("retraining"), defs.resolve_job_def("monitoring")
    daily = defs.resolve_job_def("daily_data")
    sensors = {s.name: s for s in defs.sensors}
    name = config.registry.model_name

    start = dt.date.today() - dt.timedelta(days=DAYS)
    drift = DriftSpec(start=start + dt.timedelta(days=DAYS - 2), amount_factor=3.0, card_testing_customers_per_day=40)
    spec = SimulationSpec(customers=300, terminals=600, start=start, days=DAYS, seed=42, drift=drift)
    days = list(simulate_days(spec))

    def land(first: int, last: int) -> None:
        for date, frame in days[first:last]:
            LandingFolder(path=landing.path).write(frame, f"transactions_{date:%Y-%m-%d}.parquet")

    # 1. Baseline: data lands, the days are validated and featurized, the pipeline releases the first champion;
    #    the sensor takes the folder as it is.
    land(0, BASELINE_DAYS)
    first_day, last_day = f"{days[0][0]:%Y-%m-%d}", f"{days[BASELINE_DAYS - 1][0]:%Y-%m-%d}"
    range_tags = {ASSET_PARTITION_RANGE_START_TAG: first_day, ASSET_PARTITION_RANGE_END_TAG: last_day}
    assert daily.execute_in_process(instance=instance, tags=range_tags, raise_on_error=False).success
    assert retraining.execute_in_process(instance=instance, raise_on_error=False).success
    first_champion = registry.version_for_alias(name, CHAMPION_ALIAS)
    context = build_sensor_context(instance=instance, resources={"landing": landing})
    assert isinstance(sensors["landing_sensor"](context), SkipReason)
    # The conditions' clock is injected: this evaluation a minute back, so that the next one (now) is past the
    # schedule's next tick without waiting for it.
    a_minute_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
    automation = evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=a_minute_ago)
    assert automation.total_requested == 0

    # 2. New days land after the retraining tick: the landing sensor asks for a run of those days (their validation
    #    and features alone); then the declared conditions ask for one retraining, which releases.
    land(BASELINE_DAYS, BASELINE_DAYS + NEW_DAYS)
    context = build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": landing})
    (request,) = sensors["landing_sensor"](context)  # the new days are consecutive: one run, in order
    new = [f"{d:%Y-%m-%d}" for d, _ in days[BASELINE_DAYS : BASELINE_DAYS + NEW_DAYS]]
    assert (request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        new[0],
        new[-1],
    )
    day_run = daily.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
    assert day_run.success
    assert {e.partition for e in day_run.get_asset_materialization_events()} == set(new)  # those days alone
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    requested = {
        k.to_user_string() for k in automation._requested_partitions_by_asset_key if automation.get_num_requested(k)
    }
    assert {"training_data", "candidate_model", "staging_deployment", "production_deployment"} <= requested
    assert not requested & {"raw_data", "features", "drift_report"}
    chain = retraining.get_subset(asset_selection={AssetKey(k) for k in requested})
    assert chain.execute_in_process(instance=instance, tags={RETRAINING_TAG: "true"}, raise_on_error=False).success
    assert int(registry.version_for_alias(name, CHAMPION_ALIAS)) > int(first_champion)
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    assert automation.total_requested == 0  # one retraining for the new days, not two

    # 3. Clients send the week's transactions; the daily monitoring finds no severe drift.
    production = serving_platform(settings, config).live_backend("production")
    raw = pd.concat([frame for _, frame in days], ignore_index=True)
    built = build_features(raw, config)
    stamps = pd.to_datetime(built.frame[config.data_schema.timestamp_column])
    drifted_from = pd.Timestamp(drift.start)
    normal_week = built.frame.loc[(stamps >= drifted_from - pd.Timedelta(days=7)) & (stamps < drifted_from)]
    send_traffic(production.url, normal_week, built.feature_columns, 600, seed=1)
    assert monitoring.execute_in_process(instance=instance, raise_on_error=False).success
    calm = monitoring_report(instance)
    assert calm["severity"] != "severe", calm["reasons"]
    # the champion's recent performance: the last labelled week's features joined to their labels
    assert calm["reasons"]["labelled_recent_records"].value > 1000
    assert 0 < calm["reasons"]["average_precision_recent"].value <= 1

    # 4. Drifted days arrive as traffic: severe drift, the alarm goes off, the drift sensor retrains.
    land(DAYS - 2, DAYS)
    drifted = built.frame.loc[stamps >= drifted_from]
    send_traffic(production.url, drifted, built.feature_columns, 600, seed=2)
    assert monitoring.execute_in_process(instance=instance, raise_on_error=False).success
    report = monitoring_report(instance)
    assert report["severity"] == "severe", report["reasons"]
    assert "TX_AMOUNT" in report["drifted_features"]
    time.sleep(2.5)  # the breaching 2-second period must be complete before an alarm can see it
    states = {
        s.metric: s.state for s in metrics.alarm_states(catalog.pipeline_namespace(config.name), alarms_of(config))
    }
    assert states[catalog.DATA_DRIFT] == "ALARM", states
    drift_request = sensors["drift_sensor"](build_sensor_context(instance=instance))
    assert isinstance(drift_request, RunRequest) and drift_request.tags["ml_assets/trigger"] == "severe_drift"


def monitoring_report(instance: DagsterInstance) -> dict:
    record = instance.fetch_materializations(AssetKey("drift_report"), limit=1).records[0]
    metadata = record.asset_materialization.metadata
    return {
        "severity": metadata["severity"].value,
        "drifted_features": metadata["drifted_features"].value,
        "reasons": metadata,
    }
