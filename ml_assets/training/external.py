"""The training process a model asset starts through Dagster Pipes (``python -m ml_assets.training.external``).

It reads the training data from the asset storage, trains, registers and gates one algorithm (``training.job``),
and reports back to the Dagster run that started it: the model's materialization (its value and metadata) and one
asset check per gate. It runs wherever the training compute puts it: a child process on this machine, an ECS task
of its own on AWS.
"""

from __future__ import annotations

import json

from dagster_pipes import open_dagster_pipes

from ml_assets.config import parse_config
from ml_assets.resources.io_manager import read_value
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.resources.reports import ReportStore
from ml_assets.resources.storage import open_store
from ml_assets.training.job import train_and_gate
from ml_assets.training.model_tests import GATES

# Pipes carries metadata as typed values; these keys are rendered as markdown, URL and JSON in Dagster.
_TYPES = {"metrics": "md", "evaluation_plot": "md", "evaluation_plot_url": "url", "value": "json"}


def main() -> None:
    with open_dagster_pipes() as pipes:
        extras = pipes.extras
        config = parse_config(extras["config"], "the run's config")
        name = extras["algorithm"]
        training_data = read_value(open_store(extras["storage"]), "training_data")
        trained = train_and_gate(
            name,
            config,
            training_data,
            registry=MlflowRegistry(**extras["registry"]),
            reports=ReportStore(**extras["reports"]),
            run_id=extras["run_id"],
        )
        pipes.log.info(f"{name}: AP {trained.value['metrics']['average_precision']:.4f}, v{trained.value['version']}")
        metadata = {**trained.metadata, "value": trained.value}
        pipes.report_asset_materialization(
            metadata={
                key: {"raw_value": json.loads(json.dumps(value, default=str)), "type": _TYPES.get(key, "__infer__")}
                for key, value in metadata.items()
            }
        )
        kinds = {gate.name: gate.kind for gate in GATES}
        for result in trained.gates:
            pipes.report_asset_check(
                check_name=result.name,
                passed=result.passed,
                severity="ERROR" if kinds[result.name] == "integrity" else "WARN",
                metadata={
                    "summary": {"raw_value": result.summary, "type": "text"},
                    "kind": {"raw_value": result.kind, "type": "text"},
                    "model_version": {"raw_value": str(trained.value["version"]), "type": "text"},
                    "details": {"raw_value": json.loads(json.dumps(result.details, default=str)), "type": "json"},
                },
            )


if __name__ == "__main__":
    main()
