"""The monitoring dashboard: every pipeline metric over time and the alarm states, as one page.

The production gateway serves it at /dashboard (read-only). The page fetches /dashboard/data and draws each
widget as an SVG line chart in the browser, with no library and nothing loaded from elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ml_assets.monitoring import catalog


def dashboard_data(metrics: Any, pipeline: str, alarms: list[catalog.AlarmSpec], days: float = 14.0) -> dict[str, Any]:
    """Series of every pipeline metric and the alarms' states, from the metrics resource."""
    now = time.time()
    namespace = catalog.pipeline_namespace(pipeline)
    series = {}
    for name, (unit, description) in catalog.PIPELINE_METRICS.items():
        times, values = metrics.series(namespace, name, since=now - days * 86_400, until=now)
        series[name] = {
            "unit": unit,
            "description": description,
            "points": [[float(t), float(v)] for t, v in zip(times, values, strict=True)],
        }
    states = metrics.alarm_states(namespace, alarms, now)
    return {
        "pipeline": pipeline,
        "generated_at": now,
        "metrics": series,
        "alarms": [{"name": a.name, "metric": a.metric, "state": a.state, "reason": a.reason} for a in states],
    }


def page() -> str:
    """The dashboard page (dashboard.html beside this module)."""
    return (Path(__file__).parent / "dashboard.html").read_text()
