"""CloudWatch's alarm semantics, evaluated locally."""

from __future__ import annotations

import pytest

from ml_assets.config import parse_config
from ml_assets.monitoring.alarms import alarms_of, evaluate, period_values, trend
from ml_assets.monitoring.catalog import MODEL_QUALITY, AlarmSpec, pipeline_alarms
from ml_assets_tests.conftest import small_fraud_raw

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0  # a multiple of 300: periods end exactly here
DRIFT = AlarmSpec("fraud-DataDrift-High", "DataDriftScore", "GreaterThanThreshold", 0.3, "drift")


def test_no_data_is_insufficient_data_not_ok() -> None:
    state = evaluate(DRIFT, [], [], now=NOW)
    assert state.state == "INSUFFICIENT_DATA" and state.values == [None, None]


def test_both_periods_must_breach_for_an_alarm() -> None:
    one = evaluate(DRIFT, [NOW - 100], [0.9], now=NOW)
    assert one.state == "OK" and "1 of 2 periods breach (2 needed)" in one.reason
    both = evaluate(DRIFT, [NOW - 400, NOW - 100], [0.5, 0.9], now=NOW)
    assert both.state == "ALARM" and both.values == [0.5, 0.9]
    calm = evaluate(DRIFT, [NOW - 400, NOW - 100], [0.1, 0.2], now=NOW)
    assert calm.state == "OK"


def test_periods_average_their_points_and_old_points_fall_out() -> None:
    values = period_values(
        [NOW - 500, NOW - 350, NOW - 250, NOW - 700],
        [0.2, 0.6, 1.0, 5.0],
        now=NOW,
        period=300,
        periods=2,
        statistic="Average",
    )
    assert values == [0.4, 1.0]  # [NOW-600, NOW-300): 0.2 and 0.6; NOW-700 is outside the window


def test_less_than_threshold_alarms_on_low_quality() -> None:
    quality = pipeline_alarms("fraud", 0.4, period_seconds=300, evaluation_periods=2)[0]
    assert quality.comparison == "LessThanThreshold" and quality.threshold == 0.4
    assert evaluate(quality, [NOW - 400, NOW - 100], [0.35, 0.30], now=NOW).state == "ALARM"
    assert evaluate(quality, [NOW - 400, NOW - 100], [0.35, 0.45], now=NOW).state == "OK"


def test_model_quality_alarm_uses_the_gate_of_the_published_metric() -> None:
    """ModelQuality publishes the primary metric, so its alarm compares it with that metric's gate."""
    raw = small_fraud_raw(selection={"primary_metric": "roc_auc"}, gates={"min_roc_auc": 0.8})
    quality = next(a for a in alarms_of(parse_config(raw)) if a.metric == MODEL_QUALITY)
    assert quality.threshold == 0.8
    raw = small_fraud_raw(selection={"primary_metric": "average_precision"}, gates={"min_average_precision": 0.3})
    quality = next(a for a in alarms_of(parse_config(raw)) if a.metric == MODEL_QUALITY)
    assert quality.threshold == 0.3


def test_alarm_windows_follow_the_config() -> None:
    fast = pipeline_alarms("fraud", 0.4, period_seconds=1, evaluation_periods=2)[2]
    assert evaluate(fast, [NOW - 1.5, NOW - 0.5], [0.5, 0.6], now=NOW).state == "ALARM"
    one_of_five = pipeline_alarms("fraud", 0.4, period_seconds=2, evaluation_periods=5, datapoints_to_alarm=1)[2]
    state = evaluate(one_of_five, [NOW - 7, NOW - 3], [0.1, 0.6], now=NOW)
    assert state.state == "ALARM" and state.values == [None, 0.1, None, 0.6, None]
    assert evaluate(one_of_five, [NOW - 7], [0.1], now=NOW).state == "OK"


def test_the_seeds_trend() -> None:
    assert trend([1.0]) == "insufficient_data"
    assert trend([1, 1, 1, 2, 2, 2]) == "increasing"
    assert trend([2, 2, 2, 1, 1, 1]) == "decreasing"
    assert trend([1, 1.01, 0.99, 1, 1, 1.02]) == "stable"
