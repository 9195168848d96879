"""One model asset per algorithm in the config (a factory), and the candidate chosen among them."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)

from ml_assets.config import AlgorithmConfig, PipelineConfig
from ml_assets.features.build import feature_columns_of
from ml_assets.resources.compute import TrainingCompute
from ml_assets.resources.mlflow_registry import (
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    FAILED_GATES_TAG,
    GATES_TAG,
    MlflowRegistry,
)
from ml_assets.resources.reports import ReportStore
from ml_assets.training.constants import model_asset_name
from ml_assets.training.dataset import evaluate, train_test
from ml_assets.training.model_tests import GATES
from ml_assets.training.selection import ModelScore, select_candidate


def _comparison_table(scores: list[ModelScore], metric: str) -> str:
    rows = [f"| algorithm | version | gates | {metric} |", "|---|---|---|---|"]
    for s in scores:
        gates = "passed" if s.gates_passed else "failed: " + ",".join(s.failed_gates)
        rows.append(f"| {s.algorithm} | {s.version} | {gates} | {s.score:.4f} |")
    return "\n".join(rows)


def build_model_asset(name: str, algorithm: AlgorithmConfig, config: PipelineConfig) -> AssetsDefinition:
    """The model asset of one algorithm: trained, registered and gated by an external process (Dagster Pipes on
    the config's training compute), which reports the model and one blocking check per gate. Integrity gates fail
    with ERROR severity and stop the run (a model that cannot predict means a broken pipeline); quality gates fail
    with WARN: the version is marked ``gates=failed`` and never chosen, while the best of the others may be."""
    asset_name = model_asset_name(name)
    specs = [
        AssetCheckSpec(g.name, asset=asset_name, description=g.description, blocking=True, additional_deps=[])
        for g in GATES
    ]

    @asset(
        name=asset_name,
        group_name="training",
        kinds={"mlflow", "xgboost" if algorithm.kind == "xgboost" else "sklearn"},
        check_specs=specs,
        deps=["training_data"],  # the process reads it from the asset storage, not this run's memory
        description=f"A {algorithm.kind} model trained on training_data, logged to MLflow, registered and put "
        "through the model test suite, by an external process (Dagster Pipes).",
    )
    def _model(
        context: AssetExecutionContext, registry: MlflowRegistry, reports: ReportStore, training: TrainingCompute
    ):
        extras = {
            "algorithm": name,
            "config": config.model_dump(mode="json", by_alias=True),
            "storage": training.storage,
            "registry": registry.model_dump(),
            "reports": reports.model_dump(),
            "run_id": context.run_id,
        }
        results = training.run(context, algorithm=name, extras=extras).get_results()
        materialization = next((r for r in results if isinstance(r, MaterializeResult)), None)
        if materialization is None:
            raise Failure(f"the training process for {name} ended without reporting a model (see its log above)")
        metadata = dict(materialization.metadata or {})
        value = metadata.pop("value").value
        context.log.info(f"{name}: AP {value['metrics']['average_precision']:.4f}, registered as v{value['version']}")
        yield Output(value, metadata=metadata)
        for check in (r for r in results if isinstance(r, AssetCheckResult)):
            summary = check.metadata["summary"].value
            if not check.passed:
                context.log.error(f"{asset_name} gate {check.check_name} failed: {summary}")
            yield check._replace(description=summary)

    return _model


def build_candidate_asset(config: PipelineConfig) -> AssetsDefinition:
    model_ins = {model_asset_name(name): AssetIn() for name in config.algorithms}
    metric = config.selection.primary_metric
    model_name = config.registry.model_name

    @asset(
        group_name="training",
        ins={**model_ins, "training_data": AssetIn()},
        kinds={"mlflow"},
        description="The best model that passed its gates, held against the current champion; gets alias 'candidate'.",
    )
    def candidate_model(
        context: AssetExecutionContext, registry: MlflowRegistry, reports: ReportStore, **inputs
    ) -> Output[dict]:
        training_data: pd.DataFrame = inputs.pop("training_data")
        scores = []
        for value in inputs.values():
            tags = registry.version_tags(model_name, value["version"])
            failed = tuple(t for t in tags.get(FAILED_GATES_TAG, "").split(",") if t)
            scores.append(
                ModelScore(
                    value["algorithm"],
                    value["version"],
                    tags.get(GATES_TAG) == "passed",
                    float(value["metrics"][metric]),
                    failed,
                )
            )
        champion_version = registry.version_for_alias(model_name, CHAMPION_ALIAS)
        champion_score = _champion_score(
            registry, model_name, version=champion_version, training_data=training_data, config=config, context=context
        )
        selection = select_candidate(
            scores, metric, champion_score=champion_score, margin=config.selection.non_inferiority_margin
        )
        report = {
            "primary_metric": metric,
            "models": [s.__dict__ for s in scores],
            "champion": {"version": champion_version, "score": champion_score},
            "non_inferiority_margin": config.selection.non_inferiority_margin,
            "accepted": selection.accepted,
            "reason": selection.reason,
        }
        report_url = reports.write(f"candidate/{context.run_id}/comparison.json", report)
        if not selection.accepted:
            raise Failure(
                description=f"no candidate: {selection.reason}",
                metadata={"comparison": MetadataValue.json(report), "report": MetadataValue.url(report_url)},
            )
        chosen = selection.candidate
        assert chosen is not None
        registry.set_alias(model_name, CANDIDATE_ALIAS, chosen.version)
        context.log.info(f"candidate: {selection.reason}")
        table = _comparison_table(scores, metric)
        return Output(
            {
                "algorithm": chosen.algorithm,
                "model_name": model_name,
                "version": chosen.version,
                "score": chosen.score,
                "metric": metric,
                "champion_version": champion_version,
                "champion_score": champion_score,
                "reason": selection.reason,
            },
            metadata={
                "algorithm": chosen.algorithm,
                "version": chosen.version,
                metric: chosen.score,
                "reason": selection.reason,
                "comparison": MetadataValue.md(table),
                "report": MetadataValue.url(report_url),
            },
        )

    return candidate_model


def _champion_score(
    registry: MlflowRegistry,
    model_name: str,
    *,
    version: str | None,
    training_data: pd.DataFrame,
    config: PipelineConfig,
    context: AssetExecutionContext,
) -> float | None:
    """The champion's primary metric on this run's test data (None without a comparable champion)."""
    if version is None:
        return None
    model = registry.load_model(model_name, version)
    feature_columns = feature_columns_of(training_data)
    expected = list(getattr(model, "feature_names_in_", feature_columns))
    if expected != feature_columns:
        context.log.warning(f"champion v{version} uses other features {expected}; not comparable, treated as absent")
        return None
    metrics, _ = evaluate(model, train_test(training_data, feature_columns, config), config)
    return float(metrics[config.selection.primary_metric])
