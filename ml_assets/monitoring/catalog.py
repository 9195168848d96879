"""The pipeline's metrics, alarms and dashboard, in one place for CloudWatch, Terraform and the local evaluator.

Pipeline metrics live in the namespace ``MLPipeline/<pipeline>``; model-server metrics (per environment and
colour, one-second resolution) in ``MLAssets/Serving``. Terraform declares the same alarms and widgets; a test
keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

# Pipeline metrics: (name, unit, what it measures)
MODEL_QUALITY = "ModelQuality"
PREDICTION_LATENCY = "PredictionLatency"
DATA_DRIFT = "DataDriftScore"
MODEL_DRIFT = "ModelDriftScore"
PIPELINE_EXECUTION_TIME = "PipelineExecutionTime"
DATA_QUALITY = "DataQualityScore"
PIPELINE_FAILURES = "PipelineFailures"

PIPELINE_METRICS: dict[str, tuple[str, str]] = {
    MODEL_QUALITY: ("None", "the champion's primary metric on recent labelled data (average precision for fraud)"),
    PREDICTION_LATENCY: ("Milliseconds", "production scoring latency"),
    DATA_DRIFT: ("None", "share of features that drifted from the training reference"),
    MODEL_DRIFT: ("None", "PSI of production scores against the training scores"),
    PIPELINE_EXECUTION_TIME: ("Seconds", "wall time of a pipeline run"),
    DATA_QUALITY: ("Percent", "share of data-validation expectations met"),
    PIPELINE_FAILURES: ("Count", "failed pipeline runs (the run-failure sensor)"),
}

# Model-server metrics, published per second by each task (dimensions Environment and Slot).
SERVING_NAMESPACE = "MLAssets/Serving"
REQUESTS, ERRORS, LATENCY, SCORE = "Requests", "Errors", "Latency", "Score"
SERVING_METRICS = {REQUESTS: "Count", ERRORS: "Count", LATENCY: "Milliseconds", SCORE: "None"}

Comparison = Literal[
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]


def pipeline_namespace(pipeline: str) -> str:
    return f"MLPipeline/{pipeline}"


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch metric alarm, as CloudWatch evaluates it."""

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    description: str
    period_seconds: int = 300
    evaluation_periods: int = 2
    statistic: str = "Average"
    datapoints_to_alarm: int | None = None  # M of N; None: all evaluation periods (CloudWatch's default)


def pipeline_alarms(
    pipeline: str,
    min_model_quality: float,
    *,
    period_seconds: int,
    evaluation_periods: int,
    datapoints_to_alarm: int | None = None,
) -> list[AlarmSpec]:
    """The pipeline's four alarms; model quality is judged against the model gate's own minimum."""
    alarms = [
        AlarmSpec(
            f"{pipeline}-{MODEL_QUALITY}-Low",
            MODEL_QUALITY,
            "LessThanThreshold",
            min_model_quality,
            "Model quality dropped below the gate a new model must pass",
        ),
        AlarmSpec(
            f"{pipeline}-{PREDICTION_LATENCY}-High",
            PREDICTION_LATENCY,
            "GreaterThanThreshold",
            2000.0,
            "Prediction latency exceeded 2 s",
        ),
        AlarmSpec(f"{pipeline}-DataDrift-High", DATA_DRIFT, "GreaterThanThreshold", 0.3, "Data drift above threshold"),
        AlarmSpec(
            f"{pipeline}-PipelineExecution-Long",
            PIPELINE_EXECUTION_TIME,
            "GreaterThanThreshold",
            3600.0,
            "Pipeline run took longer than an hour",
        ),
    ]
    return [
        replace(
            a,
            period_seconds=period_seconds,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
        )
        for a in alarms
    ]


# The pipeline's dashboard: (title, metrics), two widgets a row.
DASHBOARD_WIDGETS: list[tuple[str, list[str]]] = [
    ("Model Performance", [MODEL_QUALITY, DATA_QUALITY]),
    ("Prediction Latency", [PREDICTION_LATENCY]),
    ("Drift Detection", [DATA_DRIFT, MODEL_DRIFT]),
    ("Pipeline Execution Time", [PIPELINE_EXECUTION_TIME]),
]


def dashboard_name(pipeline: str) -> str:
    return f"{pipeline}-MLPipeline-Dashboard"


def cloudwatch_dashboard(pipeline: str, region: str) -> dict:
    """The CloudWatch dashboard body (2 x 2 metric widgets, 5-minute averages)."""
    namespace = pipeline_namespace(pipeline)
    widgets = []
    for index, (title, metrics) in enumerate(DASHBOARD_WIDGETS):
        widgets.append(
            {
                "type": "metric",
                "x": 12 * (index % 2),
                "y": 6 * (index // 2),
                "width": 12,
                "height": 6,
                "properties": {
                    "metrics": [[namespace, metric] for metric in metrics],
                    "period": 300,
                    "stat": "Average",
                    "region": region,
                    "title": title,
                },
            }
        )
    return {"widgets": widgets}
