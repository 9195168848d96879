"""Training one algorithm and putting it through its gates: the work of a model asset, run wherever the training
compute runs it (a child process here, an ECS task on AWS; see ``training.external``).

It trains on the training data, evaluates on the test week, logs and registers the model in MLflow, then runs the
model test suite on the registered model as it loads back, and writes the verdict to the version's tags, so the
registry tells the same story as Dagster's checks.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ml_assets.config import PipelineConfig
from ml_assets.features.build import feature_columns_of
from ml_assets.provenance import DATA_VERSION_ATTR, code_version
from ml_assets.resources.mlflow_registry import (
    ALGORITHM_TAG,
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    FAILED_GATES_TAG,
    GATES_TAG,
    MlflowRegistry,
)
from ml_assets.resources.reports import ReportStore
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.dataset import evaluate, train_test
from ml_assets.training.model_tests import GATES, GateResult, run_model_tests
from ml_assets.training.plots import evaluation_plot


@dataclass(frozen=True)
class TrainedModel:
    """What a model asset records: its value (read by the candidate), its metadata, and its gates."""

    value: dict[str, Any]
    metadata: dict[str, Any]
    gates: list[GateResult] = field(default_factory=list)


def _metrics_table(metrics: dict[str, float]) -> str:
    return "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())


def train_and_gate(
    name: str,
    config: PipelineConfig,
    training_data: pd.DataFrame,
    *,
    registry: MlflowRegistry,
    reports: ReportStore,
    run_id: str,
) -> TrainedModel:
    """Train ``name`` (a key of ``config.algorithms``), register it, and run its gates."""
    algorithm = config.algorithms[name]
    feature_columns = feature_columns_of(training_data)
    data = train_test(training_data, feature_columns, config)
    estimator = build_estimator(algorithm)
    started = time.perf_counter()
    estimator.fit(data.x_train, data.y_train)
    train_seconds = time.perf_counter() - started
    metrics, scores = evaluate(estimator, data, config)
    png = evaluation_plot(data.y_test.to_numpy(), scores, threshold=config.evaluation.decision_threshold, title=name)
    plot_url = reports.write(f"models/{name}/{run_id}/evaluation.png", png)
    data_version = str(training_data.attrs.get(DATA_VERSION_ATTR))
    tags = {
        ALGORITHM_TAG: name,
        "kind": algorithm.kind,
        DATA_VERSION_TAG: data_version,
        CODE_VERSION_TAG: code_version(),
        "dagster_run_id": run_id,
        "pipeline": config.name,
        GATES_TAG: "pending",
    }
    registered = registry.log_model(
        experiment=config.experiment_name,
        run_name=f"{name}-{run_id[:8]}",
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
    value = {
        **registered.as_dict(),
        "algorithm": name,
        "kind": algorithm.kind,
        "metrics": metrics,
        "data_version": data_version,
        "code_version": tags[CODE_VERSION_TAG],
        "train_seconds": train_seconds,
    }
    metadata = {
        "registered_version": registered.version,
        "model_uri": registered.model_uri,
        "data_version": data_version,
        "train_seconds": train_seconds,
        **{k: metrics[k] for k in ("average_precision", "roc_auc", "precision", "recall")},
        **({"card_precision_at_k": metrics["card_precision"]} if "card_precision" in metrics else {}),
        "metrics": _metrics_table(metrics),
        "evaluation_plot": f"![evaluation](data:image/png;base64,{base64.b64encode(png).decode()})",
        "evaluation_plot_url": plot_url,
    }
    gates = run_gates(value, data, config=config, registry=registry)
    return TrainedModel(value, metadata, gates)


def _load(registry: MlflowRegistry, name: str, version: str) -> tuple[object | None, str | None]:
    try:
        return registry.load_model(name, version), None
    except Exception as error:  # reported as the failed "loads" gate, with the cause
        return None, f"{type(error).__name__}: {error}"


def run_gates(model: dict[str, Any], data: Any, *, config: PipelineConfig, registry: MlflowRegistry) -> list:
    """The model test suite on the registered model as it loads back; the verdict goes to its version's tags."""
    algorithm = config.algorithms[model["algorithm"]]
    loaded, load_error = _load(registry, model["name"], model["version"])
    if loaded is None:
        results = [GateResult("loads", "integrity", False, f"cannot load {model['model_uri']}: {load_error}")]
        results += [GateResult(g.name, g.kind, False, "skipped: the model did not load") for g in GATES[1:]]
    else:
        results = run_model_tests(
            loaded,
            x_test=data.x_test,
            metrics=model["metrics"],
            x_train=data.x_train,
            y_train=data.y_train,
            make_estimator=lambda: build_estimator(algorithm),
            gates=config.gates,
            threshold=config.evaluation.decision_threshold,
        )
    failed = [r.name for r in results if not r.passed]
    registry.set_version_tags(
        model["name"],
        model["version"],
        {GATES_TAG: "failed" if failed else "passed", FAILED_GATES_TAG: ",".join(failed)},
    )
    return results
