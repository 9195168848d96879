"""One model asset per algorithm in the config (a factory), and the candidate chosen among them."""

import base64
import time

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Failure, MetadataValue, Output, asset

from ml_assets.config import AlgorithmConfig, PipelineConfig
from ml_assets.features.build import feature_columns_of
from ml_assets.provenance import DATA_VERSION_ATTR, code_version
from ml_assets.resources.mlflow_registry import (
    ALGORITHM_TAG,
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    FAILED_GATES_TAG,
    GATES_TAG,
    MlflowRegistry,
)
from ml_assets.resources.reports import ReportStore
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.constants import model_asset_name
from ml_assets.training.dataset import evaluate, train_test
from ml_assets.training.plots import evaluation_plot
from ml_assets.training.selection import ModelScore, select_candidate


def _metrics_table(metrics: dict[str, float]) -> str:
    return "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())


def _comparison_table(scores: list[ModelScore], metric: str) -> str:
    rows = [f"| algorithm | version | gates | {metric} |", "|---|---|---|---|"]
    for s in scores:
        gates = "passed" if s.gates_passed else "failed: " + ",".join(s.failed_gates)
        rows.append(f"| {s.algorithm} | {s.version} | {gates} | {s.score:.4f} |")
    return "\n".join(rows)


def build_model_asset(name: str, algorithm: AlgorithmConfig, config: PipelineConfig) -> AssetsDefinition:
    @asset(
        name=model_asset_name(name),
        group_name="training",
        kinds={"mlflow", "xgboost" if algorithm.kind == "xgboost" else "sklearn"},
        description=f"A {algorithm.kind} model trained on training_data, logged to MLflow and registered.",
    )
    def _model(
        context: AssetExecutionContext, training_data: pd.DataFrame, registry: MlflowRegistry, reports: ReportStore
    ) -> Output[dict]:
        feature_columns = feature_columns_of(training_data)
        data = train_test(training_data, feature_columns, config)
        estimator = build_estimator(algorithm)
        started = time.perf_counter()
        estimator.fit(data.x_train, data.y_train)
        train_seconds = time.perf_counter() - started
        metrics, scores = evaluate(estimator, data, config)
        png = evaluation_plot(
            data.y_test.to_numpy(), scores, threshold=config.evaluation.decision_threshold, title=name
        )
        plot_url = reports.write(f"models/{name}/{context.run_id}/evaluation.png", png)
        data_version = str(training_data.attrs.get(DATA_VERSION_ATTR))
        tags = {
            ALGORITHM_TAG: name,
            "kind": algorithm.kind,
            DATA_VERSION_TAG: data_version,
            CODE_VERSION_TAG: code_version(),
            "dagster_run_id": context.run_id,
            "pipeline": config.name,
            GATES_TAG: "pending",
        }
        registered = registry.log_model(
            experiment=config.experiment_name,
            run_name=f"{name}-{context.run_id[:8]}",
            model=estimator,
            registered_model_name=config.registry.model_name,
            params={
                **algorithm.params,
                "kind": algorithm.kind,
                "features": ",".join(feature_columns),
                "train_rows": len(data.x_train),
                "test_rows": len(data.x_test),
            },
            metrics={**metrics, "train_seconds": train_seconds},
            tags=tags,
            input_example=data.x_test.head(5),
            artifacts={"evaluation.png": png},
        )
        context.log.info(f"{name}: AP {metrics['average_precision']:.4f}, registered as v{registered.version}")
        value = {
            **registered.as_dict(),
            "algorithm": name,
            "kind": algorithm.kind,
            "metrics": metrics,
            "data_version": data_version,
            "code_version": tags[CODE_VERSION_TAG],
            "train_seconds": train_seconds,
        }
        return Output(
            value,
            metadata={
                "registered_version": registered.version,
                "model_uri": registered.model_uri,
                "data_version": data_version,
                "train_seconds": train_seconds,
                **{k: metrics[k] for k in ("average_precision", "roc_auc", "precision", "recall")},
                **({"card_precision_at_k": metrics["card_precision"]} if "card_precision" in metrics else {}),
                "metrics": MetadataValue.md(_metrics_table(metrics)),
                "evaluation_plot": MetadataValue.md(
                    f"![evaluation](data:image/png;base64,{base64.b64encode(png).decode()})"
                ),
                "evaluation_plot_url": MetadataValue.url(plot_url),
            },
        )

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
