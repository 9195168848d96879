"""The end-of-demo summary: each algorithm's newest model, its gates and metrics, and the candidate."""

from __future__ import annotations

from ml_assets.config import PipelineConfig
from ml_assets.environment_variables import SCORING_KEYS
from ml_assets.resources.mlflow_registry import (
    ALGORITHM_TAG,
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    GATES_TAG,
    MlflowRegistry,
)
from ml_assets.settings import Settings

METRICS = ("average_precision", "roc_auc", "card_precision", "precision", "recall")


def pipeline_summary(config: PipelineConfig, settings: Settings) -> str:
    registry = MlflowRegistry(
        tracking_uri=settings.mlflow_tracking_uri,
        registry_uri=settings.mlflow_registry_uri,
        model_store=settings.model_store,
    )
    client = registry.client()
    name = config.registry.model_name
    versions = client.search_model_versions(f"name='{name}'")
    newest: dict[str, object] = {}
    for version in sorted(versions, key=lambda v: int(v.version)):
        newest[version.tags.get(ALGORITHM_TAG, "?")] = version
    lines = [f"Pipeline '{config.name}' - registered model '{name}' ({len(versions)} versions)", ""]
    header = f"{'algorithm':<16}{'version':>8}  {'gates':<8}" + "".join(f"{m:>19}" for m in METRICS)
    lines += [header, "-" * len(header)]
    for algorithm in config.algorithms:
        version = newest.get(algorithm)
        if version is None:
            lines.append(f"{algorithm:<16}{'-':>8}  not trained yet")
            continue
        metrics = client.get_run(version.run_id).data.metrics
        cells = "".join(f"{metrics[m]:>19.4f}" if m in metrics else f"{'-':>19}" for m in METRICS)
        lines.append(f"{algorithm:<16}{version.version:>8}  {version.tags.get(GATES_TAG, '?'):<8}{cells}")
    candidate = registry.version_for_alias(name, CANDIDATE_ALIAS)
    lines.append("")
    if candidate is None:
        lines.append("candidate: none (no model passed its gates, or the pipeline has not run)")
    else:
        tags = registry.version_tags(name, candidate)
        lines.append(
            f"candidate: {name} v{candidate} ({tags.get(ALGORITHM_TAG)}, data {tags.get(DATA_VERSION_TAG)}, "
            f"code {tags.get(CODE_VERSION_TAG)})"
        )
    champion = registry.version_for_alias(name, CHAMPION_ALIAS)
    lines.append(f"champion:  {'none yet' if champion is None else f'{name} v{champion}'}")
    lines += _serving_lines(config, settings)
    lines += [
        "",
        "Dagster UI:  make ui         -> http://127.0.0.1:3000",
        f"MLflow UI:   make mlflow-ui  -> http://127.0.0.1:5000  (store: {settings.mlflow_tracking_uri})",
    ]
    return "\n".join(lines)


def _serving_lines(config: PipelineConfig, settings: Settings) -> list[str]:
    """Where the champion answers, with a curl example built from a real held-out record."""
    import json

    from ml_assets.resources.platform import serving_platform

    backend = serving_platform(settings, config).live_backend("production")
    served = backend.serving()
    if not served:
        return [
            "",
            "production: not deployed (ml-assets status shows the environments)",
            *_monitoring_lines(config, settings),
        ]
    weights = backend.read_weights()
    serving = ", ".join(f"{slot} {weights.get(slot, 0)}% v{model.version}" for slot, model in served.items())
    lines = ["", f"production: {backend.url} ({serving or 'no traffic routed'})"]
    record = _example_record(config, settings)
    if record is not None:
        body = json.dumps(record, separators=(",", ":"))
        key = " -H 'Authorization: Bearer <an API key>'" if SCORING_KEYS.is_set() else ""
        lines.append(f"  curl -s -X POST {backend.url}/predict -H 'Content-Type: application/json'{key} -d '{body}'")
    if backend.dashboard_url():
        lines.append(f"monitoring dashboard: {backend.dashboard_url()}")
    lines += _monitoring_lines(config, settings)
    return lines


def _monitoring_lines(config: PipelineConfig, settings: Settings) -> list[str]:
    """The alarm states and the latest value of each metric that has one."""
    from ml_assets.monitoring import catalog
    from ml_assets.monitoring.alarms import alarms_of
    from ml_assets.resources.metrics import metrics_store

    metrics = metrics_store(settings, config)
    namespace = catalog.pipeline_namespace(config.name)
    health = metrics.health(namespace, list(catalog.PIPELINE_METRICS), hours=24 * 14)
    if not health:
        return []
    values = ", ".join(f"{name} {entry['current_value']:.4g}" for name, entry in health.items())
    states = metrics.alarm_states(namespace, alarms_of(config))
    alarms = ", ".join(f"{a.name.removeprefix(config.name + '-')} {a.state}" for a in states)
    return [f"  metrics: {values}", f"  alarms:  {alarms}"]


def _example_record(config: PipelineConfig, settings: Settings) -> dict | None:
    """The first held-out record of the last training_data materialization, rounded for reading."""
    import io

    import pandas as pd

    from ml_assets.deployment.plans import held_out_records
    from ml_assets.features.build import feature_columns_of
    from ml_assets.resources.storage import open_store

    try:
        frame = pd.read_parquet(io.BytesIO(open_store(settings.storage_for(config.name)).read("training_data.parquet")))
    except FileNotFoundError:
        return None
    records = held_out_records(frame, feature_columns_of(frame), 1)
    return {k: round(v, 4) for k, v in records[0].items()} if records else None
