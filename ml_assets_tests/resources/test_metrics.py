"""The metrics resource: the same questions answered by SQLite in the state folder and by CloudWatch (moto)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ml_assets.monitoring.catalog import DATA_DRIFT, MODEL_QUALITY, dashboard_name, pipeline_alarms
from ml_assets.resources.metrics import CloudWatchMetrics, LocalMetrics, MetricsStore
from ml_assets_tests.aws_fixtures import REGION, client

NAMESPACE = "MLPipeline/fraud"


@pytest.fixture(
    params=[pytest.param("local", marks=pytest.mark.unit), pytest.param("cloudwatch", marks=pytest.mark.aws)]
)
def metrics(request: pytest.FixtureRequest, tmp_path: Path) -> MetricsStore:
    if request.param == "local":
        return LocalMetrics(path=str(tmp_path / "metrics.db"))
    endpoint = request.getfixturevalue("endpoint")
    return CloudWatchMetrics(region=REGION, endpoint_url=endpoint)


def test_values_come_back_in_order_with_a_health_summary(metrics: MetricsStore) -> None:
    now = time.time()
    for minutes, value in ((50, 0.70), (30, 0.66), (10, 0.61)):
        metrics.put(NAMESPACE, MODEL_QUALITY, value, at=now - minutes * 60)
    times, values = metrics.series(NAMESPACE, MODEL_QUALITY, since=now - 3600, until=now + 60)
    assert list(values) == pytest.approx([0.70, 0.66, 0.61]) and list(times) == sorted(times)
    health = metrics.health(NAMESPACE, [MODEL_QUALITY, DATA_DRIFT], now=now + 60)
    assert set(health) == {MODEL_QUALITY}  # no data, no entry
    entry = health[MODEL_QUALITY]
    assert entry["current_value"] == pytest.approx(0.61) and entry["min_value"] == pytest.approx(0.61)
    assert entry["max_value"] == pytest.approx(0.70) and entry["trend"] == "decreasing"


def test_a_value_that_is_not_finite_is_refused(metrics: MetricsStore) -> None:
    with pytest.raises(ValueError, match="DataDriftScore: value nan is not finite"):
        metrics.put(NAMESPACE, DATA_DRIFT, float("nan"))


@pytest.mark.unit
def test_local_alarms_follow_cloudwatch_semantics(tmp_path: Path) -> None:
    metrics = LocalMetrics(path=str(tmp_path / "metrics.db"))
    alarms = pipeline_alarms("fraud", 0.4, period_seconds=60, evaluation_periods=2)
    clock = time.time()
    now = clock - clock % 60 + 60  # evaluated at a period boundary: [now-120, now-60), [now-60, now)
    assert {s.state for s in metrics.alarm_states(NAMESPACE, alarms, now)} == {"INSUFFICIENT_DATA"}
    metrics.put(NAMESPACE, DATA_DRIFT, 0.6, at=now - 90)
    metrics.put(NAMESPACE, DATA_DRIFT, 0.7, at=now - 30)
    states = {s.metric: s for s in metrics.alarm_states(NAMESPACE, alarms, now)}
    assert states[DATA_DRIFT].state == "ALARM" and states[MODEL_QUALITY].state == "INSUFFICIENT_DATA"


def test_cloudwatch_gets_the_seeds_alarms_and_dashboard(endpoint: str) -> None:
    metrics = CloudWatchMetrics(region=REGION, endpoint_url=endpoint)
    alarms = pipeline_alarms("fraud", 0.4, period_seconds=300, evaluation_periods=2)
    metrics.ensure_alarms(NAMESPACE, alarms)
    metrics.ensure_dashboard("fraud", REGION)
    cloudwatch = client("cloudwatch", endpoint)
    created = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(created) == {a.name for a in alarms}
    quality = created["fraud-ModelQuality-Low"]
    assert quality["Threshold"] == 0.4 and quality["ComparisonOperator"] == "LessThanThreshold"
    assert quality["Period"] == 300 and quality["EvaluationPeriods"] == 2 and quality["Namespace"] == NAMESPACE
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard_name("fraud"))["DashboardBody"])
    assert [w["properties"]["title"] for w in body["widgets"]] == [
        "Model Performance",
        "Prediction Latency",
        "Drift Detection",
        "Pipeline Execution Time",
    ]
    # moto never evaluates alarms (a gap): the state CloudWatch would report is set by hand and read back.
    cloudwatch.set_alarm_state(AlarmName="fraud-DataDrift-High", StateValue="ALARM", StateReason="test")
    states = {s.name: s.state for s in metrics.alarm_states(NAMESPACE, alarms)}
    assert states["fraud-DataDrift-High"] == "ALARM" and set(states) == {a.name for a in alarms}
