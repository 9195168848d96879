"""CloudWatch's alarm semantics, evaluated locally over a metric's time series (pure).

An alarm looks at the last ``evaluation_periods`` periods of ``period_seconds``, each reduced by its statistic.
It is ALARM when at least ``datapoints_to_alarm`` of them breach the threshold, OK when enough datapoints exist
and too few breach, and INSUFFICIENT_DATA when no period has data (missing data treated as missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ml_assets.config import PipelineConfig
from ml_assets.monitoring.catalog import AlarmSpec, pipeline_alarms

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

COMPARE = {
    "GreaterThanThreshold": np.greater,
    "GreaterThanOrEqualToThreshold": np.greater_equal,
    "LessThanThreshold": np.less,
    "LessThanOrEqualToThreshold": np.less_equal,
}
STATISTICS = {"Average": np.mean, "Maximum": np.max, "Minimum": np.min, "Sum": np.sum, "SampleCount": len}


@dataclass(frozen=True)
class AlarmState:
    name: str
    metric: str
    state: State
    reason: str
    values: list[float | None]  # one per evaluated period, oldest first (None: no data)


def period_values(
    timestamps: Sequence[float], values: Sequence[float], *, now: float, period: int, periods: int, statistic: str
) -> list[float | None]:
    """The statistic of each of the last ``periods`` whole periods ending at ``now`` (None where empty)."""
    times, data = np.asarray(timestamps, dtype=float), np.asarray(values, dtype=float)
    end = now - now % period  # CloudWatch evaluates whole periods aligned to the period
    out: list[float | None] = []
    for index in range(periods, 0, -1):
        start = end - index * period
        inside = data[(times >= start) & (times < start + period)]
        out.append(float(STATISTICS[statistic](inside)) if len(inside) else None)
    return out


def evaluate(alarm: AlarmSpec, timestamps: Sequence[float], values: Sequence[float], *, now: float) -> AlarmState:
    needed = alarm.datapoints_to_alarm or alarm.evaluation_periods
    window = period_values(
        timestamps,
        values,
        now=now,
        period=alarm.period_seconds,
        periods=alarm.evaluation_periods,
        statistic=alarm.statistic,
    )
    present = [v for v in window if v is not None]
    breaching = [v for v in present if COMPARE[alarm.comparison](v, alarm.threshold)]
    described = (
        f"{alarm.metric} {alarm.statistic.lower()} per {alarm.period_seconds} s {alarm.comparison} {alarm.threshold:g}"
    )
    if not present:
        return AlarmState(
            alarm.name,
            alarm.metric,
            "INSUFFICIENT_DATA",
            f"no data in the last {alarm.evaluation_periods} periods",
            window,
        )
    if len(breaching) >= needed:
        return AlarmState(
            alarm.name, alarm.metric, "ALARM", f"{len(breaching)} of {len(window)} periods breach: {described}", window
        )
    return AlarmState(
        alarm.name, alarm.metric, "OK", f"{len(breaching)} of {len(window)} periods breach ({needed} needed)", window
    )


def trend(values: Sequence[float]) -> str:
    """The trend rule: the mean of the last three against the earlier ones, 5 % either way."""
    if len(values) < 2:
        return "insufficient_data"
    recent = float(np.mean(values[-3:])) if len(values) >= 3 else float(values[-1])
    older = float(np.mean(values[:-3])) if len(values) >= 6 else float(values[0])
    if recent > older * 1.05 if older >= 0 else recent > older * 0.95:
        return "increasing"
    if recent < older * 0.95 if older >= 0 else recent < older * 1.05:
        return "decreasing"
    return "stable"


def alarms_of(config: PipelineConfig) -> list[AlarmSpec]:
    """The pipeline's alarms as its config sets them up. ModelQuality publishes the champion's primary metric,
    so its alarm fires below the gate a new model must pass on that same metric."""
    monitoring = config.monitoring
    return pipeline_alarms(
        config.name,
        config.gates.minimum_of(config.selection.primary_metric),
        period_seconds=monitoring.alarm_period_seconds,
        evaluation_periods=monitoring.alarm_evaluation_periods,
        datapoints_to_alarm=monitoring.alarm_datapoints_to_alarm,
    )
