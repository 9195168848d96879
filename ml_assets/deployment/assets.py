"""Staging and production deployments of the candidate on the serving platform."""

import contextlib
import time
from typing import NamedTuple

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetsDefinition, Failure, MetadataValue, Output, asset

from ml_assets.config import PipelineConfig
from ml_assets.deployment.plans import held_out_records
from ml_assets.features.build import feature_columns_of
from ml_assets.monitoring.catalog import PIPELINE_EXECUTION_TIME, pipeline_namespace
from ml_assets.resources.metrics import MetricsStore
from ml_assets.resources.mlflow_registry import CHAMPION_ALIAS, PREVIOUS_CHAMPION_ALIAS, MlflowRegistry
from ml_assets.resources.platform import ServingPlatform
from ml_assets.resources.reports import ReportStore
from ml_assets.rollout.backend import REPLAYED_HEADER, ModelRef, ServingBackend
from ml_assets.rollout.clock import SystemClock
from ml_assets.rollout.engine import RolloutEngine
from ml_assets.rollout.state import FAILED_OVER, PROMOTED, RolloutState
from ml_assets.serving.auth import client_headers


def golden_check(backend: ServingBackend, records: list[dict], expected: np.ndarray):
    """A check for the engine: the slot's server must score the golden records as the registered model does."""

    def check(slot: str) -> str | None:
        status, answer = backend.score(slot, records)
        if status != 200:
            return f"{slot}'s /predict answered {status}: {answer}"
        served = np.array([p["probability"] for p in answer["predictions"]])
        worst = float(np.max(np.abs(served - expected)))
        return (
            None if worst <= 1e-6 else f"served probabilities differ from the registered model's by up to {worst:.3g}"
        )

    return check


class ReleaseTools(NamedTuple):
    """What a release acts on and where it reports: the same for staging and production."""

    platform: ServingPlatform
    registry: MlflowRegistry
    reports: ReportStore


# Per environment: the strategy (None: the config's) and whether held-out records are replayed as traffic.
# Staging switches once healthy with no analysis; production is analysed, on replayed traffic where it has none.
RELEASE_MODES: dict[str, tuple[str | None, bool]] = {"staging": ("direct", False), "production": (None, True)}


def _release(
    context: AssetExecutionContext,
    tools: ReleaseTools,
    environment: str,
    *,
    candidate: dict,
    training_data: pd.DataFrame,
    config: PipelineConfig,
) -> tuple[RolloutState, ServingBackend, str]:
    """Release ``candidate`` in ``environment`` as RELEASE_MODES says, golden records and replayed traffic drawn
    from the held-out part of ``training_data``. The rollout report is written either way; its URL is returned."""
    platform, registry, reports = tools
    strategy, replay_held_out = RELEASE_MODES[environment]
    deployment = config.deployment
    backend = platform.backend(environment)
    model = ModelRef(candidate["model_name"], str(candidate["version"]))
    features = feature_columns_of(training_data)
    golden = held_out_records(training_data, features, deployment.golden_records)
    loaded = registry.load_model(model.name, model.version)
    expected = np.asarray(loaded.predict_proba(pd.DataFrame(golden, columns=features)))[:, 1]
    plan = deployment.release_plan(strategy)
    engine = RolloutEngine(
        backend, platform.state_store(), clock=SystemClock(), plan=plan, environment=environment, log=context.log.info
    )
    traffic: contextlib.AbstractContextManager = contextlib.nullcontext()
    replay_url = backend.replay_url() if replay_held_out and deployment.replay_rate > 0 and backend.serving() else None
    if replay_url is not None:
        from ml_assets.serving.replay import BackgroundReplay  # aiohttp only when traffic is replayed

        longest = plan.longest_seconds
        traffic = BackgroundReplay(
            replay_url,
            held_out_records(training_data, features, 5000),
            rate=deployment.replay_rate,
            max_seconds=longest,
            max_requests=int(deployment.replay_rate * longest),
            headers={REPLAYED_HEADER: "release", **client_headers()},
        )
    with traffic:
        state = engine.release(model, golden_check(backend, golden, expected))
    report = reports.write(f"rollouts/{environment}/{state.rollout_id}.json", state.as_dict())
    return state, backend, report


def _metadata(state: RolloutState, backend: ServingBackend, report_url: str) -> dict:
    return {
        "environment": state.environment,
        "url": backend.url,
        "status": state.status,
        "reason": state.reason,
        "version": state.candidate_model.version,
        "weights": MetadataValue.json(state.weights),
        "analyses": sum(1 for e in state.events if e["phase"].startswith("analysis:")),
        "rollout_report": MetadataValue.url(report_url),
    }


# One release at a time, whoever starts it: the instance limits this pool to one slot (instance.yaml,
# deploy/dagster.yaml).
RELEASE_POOL = "release"


def build_deployment_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    @asset(
        group_name="deployment",
        kinds={"python"},
        deps=["security_scan"],  # its blocking checks must pass first
        pool=RELEASE_POOL,
        description="The candidate serving in staging (health and golden records checked before the switch).",
    )
    def staging_deployment(
        context: AssetExecutionContext,
        candidate_model: dict,
        training_data: pd.DataFrame,
        platform: ServingPlatform,
        registry: MlflowRegistry,
        reports: ReportStore,
    ) -> Output[dict]:
        tools = ReleaseTools(platform=platform, registry=registry, reports=reports)
        state, backend, report = _release(
            context, tools, "staging", candidate=candidate_model, training_data=training_data, config=config
        )
        if state.status != PROMOTED:
            raise Failure(
                description=f"staging deployment rolled back: {state.reason}",
                metadata={"rollout_report": MetadataValue.url(report)},
            )
        value = {
            "environment": "staging",
            "url": backend.url,
            "model_name": state.candidate_model.name,
            "version": state.candidate_model.version,
            "rollout_id": state.rollout_id,
        }
        return Output(value, metadata=_metadata(state, backend, report))

    @asset(
        group_name="deployment",
        kinds={"python"},
        pool=RELEASE_POOL,
        description=f"The staged version released to production by {config.deployment.strategy}, with automatic "
        "rollback; on success the registry alias 'champion' moves to it.",
    )
    def production_deployment(
        context: AssetExecutionContext,
        staging_deployment: dict,
        training_data: pd.DataFrame,
        platform: ServingPlatform,
        registry: MlflowRegistry,
        reports: ReportStore,
        metrics: MetricsStore,
    ) -> Output[dict]:
        tools = ReleaseTools(platform=platform, registry=registry, reports=reports)
        state, backend, report = _release(
            context, tools, "production", candidate=staging_deployment, training_data=training_data, config=config
        )
        name, version = state.candidate_model.name, state.candidate_model.version
        previous = registry.version_for_alias(name, CHAMPION_ALIAS)
        # What served before this release; it differs from the alias when a dead run's release, every step
        # passed, was finished by reconcile before this one began.
        served = state.stable_model.version if state.stable_model else previous
        if state.status == PROMOTED:
            if served is not None and served != version:
                registry.set_alias(name, PREVIOUS_CHAMPION_ALIAS, served)
            registry.set_alias(name, CHAMPION_ALIAS, version)
            context.log.info(f"{name} v{version} is the champion ({state.reason})")
        else:
            if state.status == FAILED_OVER:  # the stable slot died: the new version serves without a verdict
                served = version
            if served is not None and served != previous:
                registry.set_alias(name, CHAMPION_ALIAS, served)
                context.log.warning(f"alias {CHAMPION_ALIAS!r} named v{previous} while v{served} serves: moved")
            previous = served
            context.log.error(f"release of {name} v{version} not promoted ({state.status}): {state.reason}")
        record = context.instance.get_run_record_by_id(context.run_id)
        if record is not None and record.start_time:  # PipelineExecutionTime: data to release
            metrics.put(pipeline_namespace(config.name), PIPELINE_EXECUTION_TIME, time.time() - record.start_time)
        value = {
            "environment": "production",
            "url": backend.url,
            "model_name": name,
            "version": version,
            "status": state.status,
            "reason": state.reason,
            "rollout_id": state.rollout_id,
            "champion": version if state.status == PROMOTED else previous,
        }
        return Output(value, metadata=_metadata(state, backend, report))

    return [staging_deployment, production_deployment]
