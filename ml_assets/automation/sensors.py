"""Sensors and the schedule: retraining on new landing data or severe drift, daily monitoring, failure alerts."""

import datetime as dt
import hashlib
import logging
import time
from typing import Any

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ml_assets.automation.conditions import RETRAINING_TAG
from ml_assets.automation.triggers import RetrainingLoad, drift_decision, landing_decision, new_days_decision
from ml_assets.config import PipelineConfig, RetrainingConfig
from ml_assets.data.days import blocks, day_of, day_range, last_complete_day
from ml_assets.environment_variables import ALERT_WEBHOOK
from ml_assets.monitoring import catalog
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.metrics import MetricsStore

log = logging.getLogger("ml_assets.alerts")
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
TRIGGER_TAG = "ml_assets/trigger"


def retraining_load(instance, *, now: float, max_runs_per_day: int) -> RetrainingLoad:
    """Retraining runs (whoever started them: a sensor, the declared conditions, a person with the tag) queued or
    running, and those started in the last 24 h."""
    tags = {RETRAINING_TAG: "true"}
    active = instance.get_runs_count(RunsFilter(tags=tags, statuses=ACTIVE))
    since = dt.datetime.fromtimestamp(now - 86_400, tz=dt.UTC)
    recent = instance.get_runs_count(RunsFilter(tags=tags, created_after=since))
    return RetrainingLoad(active_runs=active, runs_last_day=recent, max_runs_per_day=max_runs_per_day)


def build_automation(
    config: PipelineConfig, retraining: Any, monitoring: Any, daily: Any | None = None
) -> tuple[list, list]:
    """(sensors, schedules). With daily partitions (``daily``: the daily_data job) the landing sensor starts a run
    per new or changed day and retraining follows the conditions declared on the assets; without, new files start
    a retraining run."""
    guardrails = config.monitoring.retraining
    namespace = catalog.pipeline_namespace(config.name)
    landing_sensor = _days_sensor(daily, config) if daily is not None else _retraining_sensor(retraining, guardrails)

    @sensor(
        job=retraining,
        minimum_interval_seconds=guardrails.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if guardrails.on_severe_drift else DefaultSensorStatus.STOPPED,
        description="A drift report with severe drift starts a retraining run: debounced, one at a time, capped per "
        "day (a rule across the graph that asset conditions do not express: the drift report is not upstream of "
        "the training data).",
    )
    def drift_sensor(context: SensorEvaluationContext):
        records = context.instance.fetch_materializations(AssetKey("drift_report"), limit=1).records
        latest = None
        if records and records[0].asset_materialization is not None:
            severity = records[0].asset_materialization.metadata.get("severity")
            latest = (records[0].storage_id, severity.value if severity is not None else "none")
        load = retraining_load(context.instance, now=time.time(), max_runs_per_day=guardrails.max_runs_per_day)
        decision = drift_decision(context.cursor, latest, load=load)
        context.update_cursor(decision.cursor)
        if not decision.run:
            return SkipReason(decision.reason)
        context.log.info(decision.reason)
        return RunRequest(run_key=decision.run_key, tags={TRIGGER_TAG: "severe_drift", RETRAINING_TAG: "true"})

    @run_failure_sensor(
        default_status=DefaultSensorStatus.RUNNING,
        description="A failed run raises an alert: the PipelineFailures metric, an error log line, and a POST to "
        f"${ALERT_WEBHOOK.name} when it is set.",
    )
    def failure_alert(context: RunFailureSensorContext, metrics: MetricsStore):
        run = context.dagster_run
        message = f"run {run.run_id} of {run.job_name} failed: {context.failure_event.message}"
        log.error(message)
        context.log.error(message)
        metrics.put(namespace, catalog.PIPELINE_FAILURES, 1.0)
        url = ALERT_WEBHOOK.get()
        if url:
            from ml_assets.resources.http import http

            body = {"text": message, "job": run.job_name, "run_id": run.run_id, "pipeline": config.name}
            try:
                http("POST", url, body, timeout=10)
            except (OSError, ValueError) as error:  # an unreachable webhook must not hide the alert itself
                context.log.error(f"alert webhook {url} failed: {error}")

    schedule = ScheduleDefinition(
        name="daily_monitoring",
        job=monitoring,
        cron_schedule=config.monitoring.schedule,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Production traffic, drift report and pipeline health, every day.",
    )
    return [landing_sensor, drift_sensor, failure_alert], [schedule]


def _days_sensor(daily: Any, config: PipelineConfig):
    guardrails = config.monitoring.retraining
    partitions = config.dataset.partitions

    @sensor(
        name="landing_sensor",
        job=daily,
        minimum_interval_seconds=guardrails.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if guardrails.on_new_data else DefaultSensorStatus.STOPPED,
        description="New or changed landing files (a folder or an S3 prefix), once the folder is quiet: a run of "
        "daily_data per range of consecutive new days (their validation and features, in order), keyed by the "
        "files' versions so that a corrected file is validated again and an unchanged one never twice.",
    )
    def landing_sensor(context: SensorEvaluationContext, landing: LandingFolder):
        listing = {item.name: item.version for item in landing.files()}
        now = time.time()
        last = last_complete_day(dt.datetime.fromtimestamp(now, tz=dt.UTC), partitions.timezone)
        decision = new_days_decision(
            context.cursor,
            listing,
            now=now,
            debounce_seconds=guardrails.debounce_seconds,
            day_of=day_of,
            days=(partitions.start.isoformat(), last),
        )
        context.update_cursor(decision.cursor)
        if decision.unassigned:
            context.log.warning(decision.reason)
        if not decision.days:
            return SkipReason(decision.reason)
        context.log.info(decision.reason)
        requests = []
        for first, end in blocks(decision.days):
            key = "|".join(f"{day}@{decision.days[day]}" for day in day_range([first, end]))
            run_key = f"{first}...{end}@{hashlib.sha256(key.encode()).hexdigest()[:12]}"
            if first == end:
                requests.append(RunRequest(run_key=run_key, partition_key=first, tags={TRIGGER_TAG: "new_data"}))
            else:
                tags = {
                    TRIGGER_TAG: "new_data",
                    ASSET_PARTITION_RANGE_START_TAG: first,
                    ASSET_PARTITION_RANGE_END_TAG: end,
                }
                requests.append(RunRequest(run_key=run_key, tags=tags))
        return requests

    return landing_sensor


def _retraining_sensor(retraining: Any, guardrails: RetrainingConfig):
    @sensor(
        name="landing_sensor",
        job=retraining,
        minimum_interval_seconds=guardrails.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if guardrails.on_new_data else DefaultSensorStatus.STOPPED,
        description="New or changed landing files (a folder or an S3 prefix) start a retraining run: validation, "
        "training, gates, staging, production. Debounced, one at a time, capped per day.",
    )
    def landing_sensor(context: SensorEvaluationContext, landing: LandingFolder):
        now = time.time()
        listing = {item.name: item.version for item in landing.files()}
        load = retraining_load(context.instance, now=now, max_runs_per_day=guardrails.max_runs_per_day)
        decision = landing_decision(
            context.cursor, listing, now=now, debounce_seconds=guardrails.debounce_seconds, load=load
        )
        context.update_cursor(decision.cursor)
        if not decision.run:
            return SkipReason(decision.reason)
        context.log.info(decision.reason)
        return RunRequest(run_key=decision.run_key, tags={TRIGGER_TAG: "new_data", RETRAINING_TAG: "true"})

    return landing_sensor
