"""CloudWatch: publish metrics, read metric windows, create alarms and dashboards."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np

from ml_assets.monitoring.catalog import AlarmSpec
from ml_assets.resources.aws.session import AwsClientResource

MAX_DATUMS_PER_CALL = 1000
MAX_QUERIES_PER_CALL = 500


def timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


class CloudWatchResource(AwsClientResource):
    """Custom metrics, metric windows, the pipeline's alarms and dashboard."""

    def put(self, namespace: str, datums: list[dict[str, Any]]) -> None:
        """PutMetricData in chunks CloudWatch accepts."""
        for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
            self.call(
                "cloudwatch",
                "put_metric_data",
                f"metrics in {namespace!r}",
                Namespace=namespace,
                MetricData=datums[start : start + MAX_DATUMS_PER_CALL],
            )

    def series(
        self, queries: dict[str, dict[str, Any]], since: float, until: float, with_timestamps: bool = False
    ) -> dict[str, Any]:
        """Values of each ``{id: MetricStat}`` between two times, oldest first (every page read); with
        ``with_timestamps``, (timestamps, values) pairs."""
        ids = list(queries)
        values: dict[str, list[tuple[dt.datetime, float]]] = {query_id: [] for query_id in ids}
        for start in range(0, len(ids), MAX_QUERIES_PER_CALL):
            batch = [{"Id": query_id, "MetricStat": queries[query_id]} for query_id in ids[start : start + 500]]
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {
                    "MetricDataQueries": batch,
                    "StartTime": timestamp(since),
                    "EndTime": timestamp(until),
                    "ScanBy": "TimestampAscending",
                }
                if token:
                    kwargs["NextToken"] = token
                answer = self.call("cloudwatch", "get_metric_data", f"metrics {[q['Id'] for q in batch]}", **kwargs)
                for result in answer["MetricDataResults"]:
                    values[result["Id"]].extend(zip(result["Timestamps"], result["Values"], strict=True))
                token = answer.get("NextToken")
                if not token:
                    break
        out: dict[str, Any] = {}
        for query_id, points in values.items():
            ordered = sorted(points, key=lambda p: p[0])
            data = np.array([value for _, value in ordered], dtype=float)
            stamps = np.array([moment.timestamp() for moment, _ in ordered], dtype=float)
            out[query_id] = (stamps, data) if with_timestamps else data
        return out

    def put_alarm(self, namespace: str, alarm: AlarmSpec, actions: list[str] | None = None) -> None:
        self.call(
            "cloudwatch",
            "put_metric_alarm",
            f"alarm {alarm.name!r}",
            AlarmName=alarm.name,
            AlarmDescription=alarm.description,
            Namespace=namespace,
            MetricName=alarm.metric,
            Statistic=alarm.statistic,
            Period=alarm.period_seconds,
            EvaluationPeriods=alarm.evaluation_periods,
            Threshold=alarm.threshold,
            ComparisonOperator=alarm.comparison,
            TreatMissingData="missing",
            DatapointsToAlarm=alarm.datapoints_to_alarm or alarm.evaluation_periods,
            ActionsEnabled=bool(actions),
            AlarmActions=actions or [],
        )

    def alarm_states(self, names: list[str]) -> dict[str, str]:
        answer = self.call("cloudwatch", "describe_alarms", f"alarms {names}", AlarmNames=names)
        return {alarm["AlarmName"]: alarm["StateValue"] for alarm in answer["MetricAlarms"]}

    def put_dashboard(self, name: str, body: dict[str, Any]) -> None:
        self.call(
            "cloudwatch", "put_dashboard", f"dashboard {name!r}", DashboardName=name, DashboardBody=json.dumps(body)
        )
