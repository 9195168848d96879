"""MLflow tracking and Model Registry behind one resource.

Models are stored without pickle: scikit-learn models with skops, XGBoost in its own UBJSON format. Loading
never trusts the allow-list stored inside a model's MLmodel file (a crafted artifact could list dangerous types):
it uses the reviewed list below, and it checks the artifact's SHA-256 against the digest recorded at
registration before deserializing anything.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import ConfigurableResource

from ml_assets.environment_variables import MLFLOW_PROGRESS_BARS

# Types beyond skops' defaults that our estimators contain; reviewed, and the only ones ever trusted.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
]
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
DIGEST_TAG = "model_sha256"
FORMAT_FILES = {"sklearn": "model.skops", "xgboost": "model.ubj"}


class ModelIntegrityError(RuntimeError):
    """A model artifact does not match the digest recorded when it was registered."""


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    model_uri: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _flavor(model: Any) -> str:
    return "xgboost" if type(model).__module__.startswith("xgboost") else "sklearn"


class MlflowRegistry(ConfigurableResource):
    """Tracking server + Model Registry. Embedded default: SQLite and a local artifact folder."""

    tracking_uri: str
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
            common = dict(
                name="model",
                signature=signature,
                input_example=input_example,
                registered_model_name=registered_model_name,
            )
            if flavor == "xgboost":
                info = mlflow.xgboost.log_model(model, model_format="ubj", **common)
            else:
                info = mlflow.sklearn.log_model(
                    model,
                    serialization_format="skops",
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                    pyfunc_predict_fn="predict_proba",
                    **common,
                )
            run_id = run.info.run_id
        version = str(info.registered_model_version)
        with tempfile.TemporaryDirectory() as tmp:
            sha = _sha256(self._download(info.model_uri, Path(tmp)) / FORMAT_FILES[flavor])
        client = self.client()
        for key, value in {**tags, DIGEST_TAG: sha, FLAVOR_TAG: flavor}.items():
            client.set_model_version_tag(registered_model_name, version, key, value)
        return RegisteredVersion(
            registered_model_name, version, run_id, f"models:/{registered_model_name}/{version}", sha
        )

    def _download(self, uri: str, destination: Path) -> Path:
        from mlflow.artifacts import download_artifacts

        self._mlflow()
        return Path(download_artifacts(artifact_uri=uri, dst_path=str(destination)))

    def load_model(self, name: str, version: str) -> Any:
        """Load a registered version after checking its artifact digest; never unpickles."""
        client = self.client()
        tags = client.get_model_version(name, version).tags
        flavor = tags.get(FLAVOR_TAG)
        expected = tags.get(DIGEST_TAG)
        if flavor not in FORMAT_FILES or not expected:
            raise ModelIntegrityError(
                f"{name} v{version}: no recorded flavor/digest; refusing to load an unverified model"
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = self._download(f"models:/{name}/{version}", Path(tmp)) / FORMAT_FILES[flavor]
            actual = _sha256(path)
            if actual != expected:
                raise ModelIntegrityError(
                    f"{name} v{version}: artifact sha256 {actual[:12]} != registered {expected[:12]}"
                )
            if flavor == "xgboost":
                from xgboost import XGBClassifier

                model = XGBClassifier()
                model.load_model(str(path))
                return model
            import skops.io

            return skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)

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
