"""The model server's CloudWatch metrics: per-second requests, errors, latency and score, per environment and colour.

Requests are folded into one-second statistic sets in memory and flushed by a background thread, so the
request path never waits on CloudWatch. Alarms and the dashboard read them; the release analysis reads every
request's outcome from the traffic log instead (``traffic_log``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ml_assets.monitoring.catalog import ERRORS, LATENCY, REQUESTS, SCORE, SERVING_METRICS
from ml_assets.serving.flusher import PeriodicFlusher

log = logging.getLogger(__name__)

# Seconds that could not be sent are retried at the next flushes for this long, then dropped: an alarm evaluates
# minutes, not hours, and a CloudWatch outage must not grow the server's memory without bound.
MAX_RETRY_AGE_SECONDS = 900


@dataclass
class Stats:
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.total += other.total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)

    def statistic_values(self) -> dict[str, float]:
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.low, "Maximum": self.high}


@dataclass
class Second:
    requests: int = 0
    errors: int = 0
    latency: Stats = field(default_factory=Stats)
    score: Stats = field(default_factory=Stats)

    def merge(self, other: Second) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latency.merge(other.latency)
        self.score.merge(other.score)


def datums(seconds: dict[int, Second], dimensions: list[dict[str, str]]) -> list[dict[str, Any]]:
    """PutMetricData entries (one-second storage resolution) for the folded seconds."""
    entries = []
    for second, folded in sorted(seconds.items()):
        base = {
            "Dimensions": dimensions,
            "Timestamp": dt.datetime.fromtimestamp(second, tz=dt.UTC),
            "StorageResolution": 1,
        }
        entries.append({**base, "MetricName": REQUESTS, "Value": folded.requests, "Unit": SERVING_METRICS[REQUESTS]})
        entries.append({**base, "MetricName": ERRORS, "Value": folded.errors, "Unit": SERVING_METRICS[ERRORS]})
        for name, stats in ((LATENCY, folded.latency), (SCORE, folded.score)):
            if stats.count:
                entries.append(
                    {
                        **base,
                        "MetricName": name,
                        "StatisticValues": stats.statistic_values(),
                        "Unit": SERVING_METRICS[name],
                    }
                )
    return entries


class CloudWatchPublisher(PeriodicFlusher):
    """Folds requests per second; a daemon thread flushes them every ``flush_seconds``. Seconds that fail to send
    are kept for the next flush while younger than ``max_retry_age_seconds``."""

    thread_name = "cloudwatch-metrics"

    def __init__(
        self,
        put: Callable[[list[dict[str, Any]]], None],
        environment: str,
        slot: str,
        flush_seconds: float = 10.0,
        clock: Callable[[], float] | None = None,
        max_retry_age_seconds: float = MAX_RETRY_AGE_SECONDS,
    ) -> None:
        import time

        self.put, self.flush_seconds = put, flush_seconds
        self.max_retry_age_seconds = max_retry_age_seconds
        self.clock = clock or time.time
        self.dimensions = [{"Name": "Environment", "Value": environment}, {"Name": "Slot", "Value": slot}]
        self.seconds: dict[int, Second] = {}
        self.lock = threading.Lock()

    def record(self, status: int, latency_ms: float, scores: list[float]) -> None:
        """One answered request; client errors (4xx) count as requests, server errors (5xx) as errors too."""
        second = int(self.clock())
        with self.lock:
            folded = self.seconds.setdefault(second, Second())
            folded.requests += 1
            if status >= 500:
                folded.errors += 1
            elif status == 200:
                folded.latency.add(latency_ms)
                for score in scores:
                    folded.score.add(score)

    def flush(self) -> int:
        """Send what was folded; returns the number of datums sent. Failures are logged and the data kept."""
        with self.lock:
            seconds, self.seconds = self.seconds, {}
        if not seconds:
            return 0
        entries = datums(seconds, self.dimensions)
        try:
            self.put(entries)
        except Exception as error:  # keep serving; retry the recent seconds with the next flush
            oldest = self.clock() - self.max_retry_age_seconds
            kept = {second: folded for second, folded in seconds.items() if second >= oldest}
            log.warning(
                "CloudWatch metrics not sent (%s); %d seconds kept for the next flush, %d older than %g s dropped",
                error,
                len(kept),
                len(seconds) - len(kept),
                self.max_retry_age_seconds,
            )
            with self.lock:
                for second, folded in kept.items():
                    self.seconds.setdefault(second, Second()).merge(folded)
            return 0
        return len(entries)
