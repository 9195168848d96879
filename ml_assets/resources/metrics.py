"""The metrics resource: a time series per metric, alarms on them, in SQLite (the state folder) or CloudWatch.

Both backends answer the same questions — put a value, read a series, create the seed's alarms, give their
states and a pipeline-health summary — so assets, hooks, sensors and the dashboard never know which one runs.
Locally the alarms are evaluated with CloudWatch's semantics (monitoring/alarms.py); on AWS CloudWatch
evaluates them and we read their states.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from dagster import ConfigurableResource
from pydantic import Field

from ml_assets.monitoring.alarms import AlarmState, evaluate, trend
from ml_assets.monitoring.catalog import PIPELINE_METRICS, AlarmSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    namespace TEXT NOT NULL, name TEXT NOT NULL, dimensions TEXT NOT NULL DEFAULT '{}',
    at REAL NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL DEFAULT 'None'
);
CREATE INDEX IF NOT EXISTS points_by_metric ON points (namespace, name, dimensions, at);
"""


class MetricsResource(ConfigurableResource):
    """Metrics and alarms: ``backend`` local (SQLite at ``path``) or cloudwatch (region/endpoint from AWS settings)."""

    backend: Literal["local", "cloudwatch"] = "local"
    path: str = ".ml_assets/metrics.db"
    region: str | None = None
    endpoint_url: str | None = None
    alarm_actions: list[str] = Field(default_factory=list, description="SNS topics CloudWatch alarms notify.")

    # -- storage ------------------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.executescript(SCHEMA)
        return connection

    def _cloudwatch(self):
        from ml_assets.resources.aws.cloudwatch import CloudWatchResource

        return CloudWatchResource(region=self.region, endpoint_url=self.endpoint_url)

    def put(
        self,
        namespace: str,
        name: str,
        value: float,
        at: float | None = None,
        dimensions: dict[str, str] | None = None,
        unit: str | None = None,
    ) -> None:
        if not np.isfinite(value):
            raise ValueError(f"metric {namespace}/{name}: value {value} is not finite")
        at = time.time() if at is None else at
        unit = unit or PIPELINE_METRICS.get(name, ("None", ""))[0]
        dims = dimensions or {}
        if self.backend == "cloudwatch":
            from ml_assets.resources.aws.cloudwatch import timestamp

            datum = {
                "MetricName": name,
                "Value": float(value),
                "Unit": unit,
                "Timestamp": timestamp(at),
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
            }
            self._cloudwatch().put(namespace, [datum])
            return
        with self._db() as db:
            db.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)",
                (namespace, name, json.dumps(dims, sort_keys=True), at, float(value), unit),
            )

    def series(
        self, namespace: str, name: str, since: float, until: float, dimensions: dict[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, values), oldest first. CloudWatch gives one-minute averages, locally every point."""
        dims = dimensions or {}
        if self.backend == "cloudwatch":
            stat = {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
                },
                "Period": 60,
                "Stat": "Average",
            }
            values = self._cloudwatch().series({"m": stat}, since, until, with_timestamps=True)["m"]
            return values[0], values[1]
        with self._db() as db:
            rows = db.execute(
                "SELECT at, value FROM points WHERE namespace = ? AND name = ? AND dimensions = ? "
                "AND at >= ? AND at <= ? ORDER BY at",
                (namespace, name, json.dumps(dims, sort_keys=True), since, until),
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=float), np.array([r[1] for r in rows], dtype=float)

    # -- alarms -------------------------------------------------------------------------------------------------

    def ensure_alarms(self, namespace: str, alarms: list[AlarmSpec]) -> None:
        """Create or update the alarms (CloudWatch); locally they are evaluated on demand from the series."""
        if self.backend == "cloudwatch":
            cloudwatch = self._cloudwatch()
            for alarm in alarms:
                cloudwatch.put_alarm(namespace, alarm, self.alarm_actions)

    def ensure_dashboard(self, pipeline: str, region: str) -> None:
        """The seed's CloudWatch dashboard (locally the production gateway serves /dashboard instead)."""
        if self.backend == "cloudwatch":
            from ml_assets.monitoring.catalog import cloudwatch_dashboard, dashboard_name

            self._cloudwatch().put_dashboard(dashboard_name(pipeline), cloudwatch_dashboard(pipeline, region))

    def alarm_states(self, namespace: str, alarms: list[AlarmSpec], now: float | None = None) -> list[AlarmState]:
        now = time.time() if now is None else now
        if self.backend == "cloudwatch":
            states = self._cloudwatch().alarm_states([a.name for a in alarms])
            return [
                AlarmState(a.name, a.metric, states.get(a.name, "INSUFFICIENT_DATA"), "as CloudWatch evaluates it", [])
                for a in alarms
            ]
        out = []
        for alarm in alarms:
            since = now - alarm.period_seconds * (alarm.evaluation_periods + 1)
            times, values = self.series(namespace, alarm.metric, since, now)
            out.append(evaluate(alarm, times, values, now))
        return out

    def health(
        self, namespace: str, metrics: list[str], hours: float = 24.0, now: float | None = None
    ) -> dict[str, Any]:
        """Per metric over the last ``hours``: current value, range, trend and the number of points."""
        now = time.time() if now is None else now
        summary: dict[str, Any] = {}
        for name in metrics:
            _, values = self.series(namespace, name, now - hours * 3600, now)
            if len(values):
                summary[name] = {
                    "current_value": float(values[-1]),
                    "min_value": float(values.min()),
                    "max_value": float(values.max()),
                    "trend": trend(list(values)),
                    "points": len(values),
                }
        return summary
