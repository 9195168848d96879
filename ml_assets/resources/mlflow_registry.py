"""MLflow tracking and Model Registry behind one resource.

Models are stored without pickle: scikit-learn models with skops, XGBoost in its own UBJSON format. A model is
serialized once, here; the same bytes go to MLflow (for its users) and, with their SHA-256, to the model store
(``resources.model_store``), where only training can write. Loading reads the model store, never MLflow's copy, and
never trusts the allow-list inside a model's MLmodel file (a crafted artifact could list dangerous types).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import ConfigurableResource

from ml_assets.environment_variables import MLFLOW_PROGRESS_BARS
from ml_assets.resources.model_store import MODEL_FILES, SKOPS_TRUSTED_TYPES, ModelStore

# The registry's vocabulary, shared by every module that reads or writes it: aliases move between versions,
# tags describe one version.
CANDIDATE_ALIAS = "candidate"
CHAMPION_ALIAS = "champion"
PREVIOUS_CHAMPION_ALIAS = "previous_champion"
ALGORITHM_TAG = "algorithm"
DATA_VERSION_TAG = "data_version"
CODE_VERSION_TAG = "code_version"
GATES_TAG = "gates"  # pending, passed or failed
FAILED_GATES_TAG = "failed_gates"  # comma-separated gate names
FLAVOR_TAG = "flavor"
DIGEST_TAG = "model_sha256"  # shown in MLflow; the digest that counts is the model store's


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    model_uri: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def _flavor(model: Any) -> str:
    return "xgboost" if type(model).__module__.startswith("xgboost") else "sklearn"


class MlflowRegistry(ConfigurableResource):
    """Tracking server + Model Registry, and the model store models are loaded from. Embedded default: SQLite, a
    local artifact folder and ``$ML_ASSETS_HOME/model_store``."""

    tracking_uri: str
    model_store: str
    registry_uri: str | None = None
    artifact_root: str | None = None

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)

    def _mlflow(self) -> Any:
        """The mlflow module pointed at this resource's servers (its fluent API is process-global)."""
        import mlflow

        MLFLOW_PROGRESS_BARS.set_default()  # no progress bars in logs, uploads and downloads alike
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        return mlflow

    def experiment_id(self, name: str) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.artifact_root:
            location = (Path(self.artifact_root) / name.replace("/", "_")).resolve().as_uri()
        return client.create_experiment(name, artifact_location=location)

    def log_model(
        self,
        *,
        experiment: str,
        run_name: str,
        model: Any,
        registered_model_name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        input_example: pd.DataFrame,
        artifacts: dict[str, bytes] | None = None,
    ) -> RegisteredVersion:
        """Log params, metrics, tags, artifacts (file name -> content) and the model in one run; register it as
        a new version."""
        from mlflow.models import infer_signature

        signature = infer_signature(input_example, model.predict_proba(input_example)[:, 1])
        flavor = _flavor(model)
        mlflow = self._mlflow()
        experiment_id = self.experiment_id(experiment)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics(metrics)
            with tempfile.TemporaryDirectory() as folder:
                for file_name, content in (artifacts or {}).items():
                    (Path(folder) / file_name).write_bytes(content)
                    mlflow.log_artifact(str(Path(folder) / file_name))
            with tempfile.TemporaryDirectory() as folder:  # serialized once: these bytes are hashed and served
                saved = Path(folder) / "model"
                common = dict(signature=signature, input_example=input_example)
                if flavor == "xgboost":
                    mlflow.xgboost.save_model(model, str(saved), model_format="ubj", **common)
                else:
                    mlflow.sklearn.save_model(
                        model,
                        str(saved),
                        serialization_format="skops",
                        skops_trusted_types=SKOPS_TRUSTED_TYPES,
                        pyfunc_predict_fn="predict_proba",
                        **common,
                    )
                data = (saved / MODEL_FILES[flavor]).read_bytes()
                mlflow.log_artifacts(str(saved), artifact_path="model")
            run_id = run.info.run_id
        version = str(mlflow.register_model(f"runs:/{run_id}/model", registered_model_name).version)
        sha = ModelStore(self.model_store).put(registered_model_name, version, flavor=flavor, data=data)
        client = self.client()
        for key, value in {**tags, DIGEST_TAG: sha, FLAVOR_TAG: flavor}.items():
            client.set_model_version_tag(registered_model_name, version, key, value)
        return RegisteredVersion(
            registered_model_name, version, run_id, f"models:/{registered_model_name}/{version}", sha
        )

    def load_model(self, name: str, version: str) -> Any:
        """A registered version from the model store, after checking its digest; never unpickles."""
        return ModelStore(self.model_store).load(name, version)

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        return dict(self.client().get_model_version(name, version).tags)

    def version_for_alias(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client().get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client().set_registered_model_alias(name, alias, version)

    def log_run_artifact(self, run_id: str, path: Path) -> None:
        self.client().log_artifact(run_id, str(path))
