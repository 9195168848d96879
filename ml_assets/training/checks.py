"""The model test suite as blocking checks on each model asset.

Integrity gates fail with ERROR severity and stop the run: a model that cannot predict means a broken pipeline.
Quality gates fail with WARN severity: the model is marked ``gates=failed`` in the registry and is never chosen
as candidate, while the best of the other models may still be. The verdict is written to the model version's
tags, so the registry tells the same story as the Dagster UI.
"""

from collections.abc import Iterator

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from ml_assets.config import AlgorithmConfig, PipelineConfig
from ml_assets.features.build import feature_columns_of
from ml_assets.resources.mlflow_registry import FAILED_GATES_TAG, GATES_TAG, MlflowRegistry
from ml_assets.training.algorithms import build_estimator
from ml_assets.training.constants import model_asset_name
from ml_assets.training.dataset import train_test
from ml_assets.training.model_tests import GATES, GateResult, run_model_tests


def _load(registry: MlflowRegistry, name: str, version: str) -> tuple[object | None, str | None]:
    try:
        return registry.load_model(name, version), None
    except Exception as error:  # reported as the failed "loads" gate, with the cause
        return None, f"{type(error).__name__}: {error}"


def build_model_checks(name: str, algorithm: AlgorithmConfig, config: PipelineConfig) -> AssetChecksDefinition:
    asset_name = model_asset_name(name)
    specs = [
        AssetCheckSpec(
            g.name, asset=asset_name, description=g.description, blocking=True, additional_deps=["training_data"]
        )
        for g in GATES
    ]

    @multi_asset_check(
        specs=specs,
        name=f"{name}_model_tests",
        ins={"model": asset_name, "training_data": "training_data"},
        description=f"The model test suite for {asset_name}.",
    )
    def _model_tests(
        context: AssetCheckExecutionContext, model: dict, training_data: pd.DataFrame, registry: MlflowRegistry
    ) -> Iterator[AssetCheckResult]:
        loaded, load_error = _load(registry, model["name"], model["version"])
        data = train_test(training_data, feature_columns_of(training_data), config)
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
        for result in results:
            if not result.passed:
                context.log.error(f"{asset_name} gate {result.name} failed: {result.summary}")
            yield AssetCheckResult(
                asset_key=asset_name,
                check_name=result.name,
                passed=result.passed,
                severity=AssetCheckSeverity.ERROR if result.kind == "integrity" else AssetCheckSeverity.WARN,
                description=result.summary,
                metadata={
                    "kind": result.kind,
                    "model_version": model["version"],
                    "details": MetadataValue.json(result.details),
                },
            )

    return _model_tests
