"""Pipeline metrics and their alarms: one abstract MetricsStore, a subclass per backend.

Every backend answers the same questions — put a value, read a series, create the pipeline's alarms and
dashboard, give the alarms' states and a health summary — so assets, hooks, sensors and the dashboard never know
which one runs. ``monitoring.metrics`` in the config names the backend (``METRICS_BACKENDS``): SQLite in the
state folder, where the alarms are evaluated with CloudWatch's semantics (monitoring/alarms.py), or CloudWatch,
which evaluates them itself.
"""

from __future__ import annotations

import json
import sqlite3
import time
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from dagster import ConfigurableResource
from pydantic import Field

from ml_assets.monitoring.alarms import AlarmState, evaluate, trend
from ml_assets.monitoring.catalog import PIPELINE_METRICS, AlarmSpec

if TYPE_CHECKING:
    from ml_assets.config import PipelineConfig
    from ml_assets.settings import Settings


class MetricsStore(ConfigurableResource):
    """A time series per metric, and alarms on them."""

    backend: ClassVar[str]  # the name monitoring.metrics gives this backend

    @classmethod
    @abstractmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> MetricsStore:
        """The store as the config sets it up."""

    def put(
        self,
        namespace: str,
        name: str,
        value: float,
        at: float | None = None,
        dimensions: dict[str, str] | None = None,
        unit: str | None = None,
    ) -> None:
        """Record ``value`` of metric ``name`` at ``at`` (now by default); a non-finite value is refused."""
        if not np.isfinite(value):
            raise ValueError(f"metric {namespace}/{name}: value {value} is not finite")
        self._put(
            namespace,
            name,
            float(value),
            at=time.time() if at is None else at,
            dimensions=dimensions or {},
            unit=unit or PIPELINE_METRICS.get(name, ("None", ""))[0],
        )

    @abstractmethod
    def _put(
        self, namespace: str, name: str, value: float, *, at: float, dimensions: dict[str, str], unit: str
    ) -> None: ...

    @abstractmethod
    def series(
        self, namespace: str, name: str, *, since: float, until: float, dimensions: dict[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, values) between two times, oldest first."""

    @abstractmethod
    def ensure_alarms(self, namespace: str, alarms: list[AlarmSpec]) -> None:
        """Create or update the alarms where the backend evaluates them."""

    @abstractmethod
    def ensure_dashboard(self, pipeline: str, region: str) -> None:
        """Create or update the pipeline's dashboard where the backend has one."""

    @abstractmethod
    def alarm_states(self, namespace: str, alarms: list[AlarmSpec], now: float | None = None) -> list[AlarmState]:
        """Each alarm's state now."""

    def health(
        self, namespace: str, metrics: list[str], hours: float = 24.0, now: float | None = None
    ) -> dict[str, Any]:
        """Per metric over the last ``hours``: current value, range, trend and the number of points."""
        now = time.time() if now is None else now
        summary: dict[str, Any] = {}
        for name in metrics:
            _, values = self.series(namespace, name, since=now - hours * 3600, until=now)
            if len(values):
                summary[name] = {
                    "current_value": float(values[-1]),
                    "min_value": float(values.min()),
                    "max_value": float(values.max()),
                    "trend": trend(list(values)),
                    "points": len(values),
                }
        return summary


SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    namespace TEXT NOT NULL, name TEXT NOT NULL, dimensions TEXT NOT NULL DEFAULT '{}',
    at REAL NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL DEFAULT 'None'
);
CREATE INDEX IF NOT EXISTS points_by_metric ON points (namespace, name, dimensions, at);
"""


class LocalMetrics(MetricsStore):
    """Every point in a SQLite file; alarms evaluated on demand from the series, as CloudWatch would."""

    backend = "local"
    path: str

    @classmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> LocalMetrics:
        return cls(path=str(settings.home / "metrics" / f"{config.name}.db"))

    def _db(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.executescript(SCHEMA)
        return connection

    def _put(
        self, namespace: str, name: str, value: float, *, at: float, dimensions: dict[str, str], unit: str
    ) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)",
                (namespace, name, json.dumps(dimensions, sort_keys=True), at, value, unit),
            )

    def series(
        self, namespace: str, name: str, *, since: float, until: float, dimensions: dict[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every point, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT at, value FROM points WHERE namespace = ? AND name = ? AND dimensions = ? "
                "AND at >= ? AND at <= ? ORDER BY at",
                (namespace, name, json.dumps(dimensions or {}, sort_keys=True), since, until),
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=float), np.array([r[1] for r in rows], dtype=float)

    def ensure_alarms(self, namespace: str, alarms: list[AlarmSpec]) -> None:
        """Nothing to create: the alarms are evaluated from the series when asked."""

    def ensure_dashboard(self, pipeline: str, region: str) -> None:
        """Nothing to create: the production gateway serves /dashboard."""

    def alarm_states(self, namespace: str, alarms: list[AlarmSpec], now: float | None = None) -> list[AlarmState]:
        now = time.time() if now is None else now
        states = []
        for alarm in alarms:
            since = now - alarm.period_seconds * (alarm.evaluation_periods + 1)
            times, values = self.series(namespace, alarm.metric, since=since, until=now)
            states.append(evaluate(alarm, times, values, now=now))
        return states


class CloudWatchMetrics(MetricsStore):
    """CloudWatch custom metrics; CloudWatch evaluates the alarms and notifies ``alarm_actions``."""

    backend = "cloudwatch"
    region: str | None = None
    endpoint_url: str | None = None
    alarm_actions: list[str] = Field(default_factory=list, description="SNS topics CloudWatch alarms notify.")

    @classmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> CloudWatchMetrics:
        aws = config.deployment.aws
        return cls(region=aws.region, endpoint_url=aws.endpoint_url)

    def _cloudwatch(self):
        from ml_assets.resources.aws.cloudwatch import CloudWatchResource

        return CloudWatchResource(region=self.region, endpoint_url=self.endpoint_url)

    def _put(
        self, namespace: str, name: str, value: float, *, at: float, dimensions: dict[str, str], unit: str
    ) -> None:
        from ml_assets.resources.aws.cloudwatch import timestamp

        datum = {
            "MetricName": name,
            "Value": value,
            "Unit": unit,
            "Timestamp": timestamp(at),
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
        }
        self._cloudwatch().put(namespace, [datum])

    def series(
        self, namespace: str, name: str, *, since: float, until: float, dimensions: dict[str, str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One-minute averages, oldest first."""
        stat = {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted((dimensions or {}).items())],
            },
            "Period": 60,
            "Stat": "Average",
        }
        values = self._cloudwatch().series({"m": stat}, since, until, with_timestamps=True)["m"]
        return values[0], values[1]

    def ensure_alarms(self, namespace: str, alarms: list[AlarmSpec]) -> None:
        cloudwatch = self._cloudwatch()
        for alarm in alarms:
            cloudwatch.put_alarm(namespace, alarm, self.alarm_actions)

    def ensure_dashboard(self, pipeline: str, region: str) -> None:
        from ml_assets.monitoring.catalog import cloudwatch_dashboard, dashboard_name

        self._cloudwatch().put_dashboard(dashboard_name(pipeline), cloudwatch_dashboard(pipeline, region))

    def alarm_states(self, namespace: str, alarms: list[AlarmSpec], now: float | None = None) -> list[AlarmState]:
        states = self._cloudwatch().alarm_states([a.name for a in alarms])
        return [
            AlarmState(a.name, a.metric, states.get(a.name, "INSUFFICIENT_DATA"), "as CloudWatch evaluates it", [])
            for a in alarms
        ]


METRICS_BACKENDS: dict[str, type[MetricsStore]] = {store.backend: store for store in MetricsStore.__subclasses__()}


def metrics_store(settings: Settings, config: PipelineConfig) -> MetricsStore:
    """The store ``monitoring.metrics`` names."""
    return METRICS_BACKENDS[config.monitoring.metrics].from_config(settings, config)
