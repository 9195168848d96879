"""The code location: one Definitions object built from the pipeline config (``ML_ASSETS_CONFIG``)."""

from __future__ import annotations

import warnings

import dagster as dg
from dagster import AssetSelection, BetaWarning, Definitions, PreviewWarning, define_asset_job, in_process_executor

from ml_assets.asset_catalog import describe
from ml_assets.automation.conditions import automation_sensors, declare
from ml_assets.automation.sensors import build_automation
from ml_assets.config import PipelineConfig, load_config
from ml_assets.data.assets import build_data_assets
from ml_assets.deployment.assets import build_deployment_assets
from ml_assets.deployment.checks import build_deployment_checks
from ml_assets.features.assets import build_feature_assets
from ml_assets.monitoring.assets import build_monitoring_assets
from ml_assets.monitoring.checks import build_monitoring_checks
from ml_assets.resources import build_resources
from ml_assets.security.assets import build_security_assets
from ml_assets.security.checks import build_security_checks
from ml_assets.settings import Settings, load_settings
from ml_assets.training.assets import build_candidate_asset, build_model_asset


def build_definitions(config: PipelineConfig, settings: Settings) -> Definitions:
    # Per-partition asset checks (preview) and single-run backfills (beta) are used on purpose: Dagster is pinned
    # to one release and the tests cover how both behave; their warnings would print on every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        return _definitions(config, settings)


def _definitions(config: PipelineConfig, settings: Settings) -> Definitions:
    assets = [
        *build_data_assets(config),
        *build_feature_assets(config),
        *(build_model_asset(name, algorithm, config) for name, algorithm in config.algorithms.items()),
        build_candidate_asset(config),
        *build_security_assets(),
        *build_deployment_assets(config),
        *build_monitoring_assets(config),
    ]
    checks = [
        *build_security_checks(),
        *build_deployment_checks(config),
        *build_monitoring_checks(config),
    ]
    monitoring = AssetSelection.groups("monitoring")
    daily = AssetSelection.assets(*(a for a in assets if a.partitions_def is not None))
    jobs = []
    if config.partitioned:
        jobs.append(
            define_asset_job(
                "daily_data",
                selection=daily,
                description="One day's landing file: load, validate (the day's checks), profile and featurize.",
            )
        )
    retraining_job = define_asset_job(
        "retraining",
        selection=AssetSelection.all() - monitoring - daily,
        description="Validation, features, training, gates, security scan, staging and production release"
        + (" (the days' data and features are the daily_data job's)." if config.partitioned else "."),
    )
    monitoring_job = define_asset_job(
        "monitoring", selection=monitoring, description="Production traffic, drift report, pipeline health."
    )
    sensors, schedules = build_automation(config, retraining_job, monitoring_job, jobs[0] if jobs else None)
    sensors += automation_sensors(config, daily=daily, retraining=AssetSelection.all() - monitoring - daily)
    # One process per run: the steps share imports (GE, MLflow, xgboost) instead of re-importing them per step.
    return Definitions(
        assets=describe(declare(assets, config), config),
        asset_checks=checks,
        jobs=[*jobs, retraining_job, monitoring_job],
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(settings, config),
        executor=in_process_executor,
    )


@dg.definitions
def defs() -> Definitions:
    """The code location's definitions, built when Dagster loads it (``dagster ... -m ml_assets.definitions`` or
    ``dg``), for the config ``ML_ASSETS_CONFIG`` names."""
    settings = load_settings()
    return build_definitions(load_config(settings.config_path), settings)
