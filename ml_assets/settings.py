"""Where ml_assets keeps its state, resolved from the environment variables declared in environment_variables.py.

The embedded default keeps everything in one state folder (``ML_ASSETS_HOME``, default ``.ml_assets`` in the
current directory): landing data, the Dagster instance, the MLflow store, asset values and reports. Each of the
latter may live elsewhere (a remote MLflow, ``s3://`` prefixes for values and reports).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ml_assets import environment_variables as env

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "configs" / "fraud.yaml"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the project's configuration and state."""

    config_path: Path
    home: Path
    mlflow_tracking_uri: str
    mlflow_registry_uri: str
    dependency_audit: bool = True
    storage: str = ""
    reports: str = ""
    model_store: str = ""

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    def storage_for(self, pipeline: str) -> str:
        """Where a pipeline's asset values live (a folder or an S3 prefix)."""
        base = self.storage or str(self.home / "storage")
        return f"{base.rstrip('/')}/{pipeline}"

    def reports_for(self, pipeline: str) -> str:
        """Where a pipeline's reports live (a folder or an S3 prefix)."""
        base = self.reports or str(self.home / "reports")
        return f"{base.rstrip('/')}/{pipeline}"

    def resolve_location(self, location: str) -> str:
        """A location named in the config (landing data, rollout state): ``${VARS}`` expanded, relative paths in
        the state folder, ``s3://bucket/prefix`` as it is."""
        expanded = os.path.expandvars(location)
        if "$" in expanded:
            raise ValueError(f"location {location!r}: an environment variable it names is not set")
        if "://" in expanded:
            return expanded
        path = Path(expanded).expanduser()
        return str(path if path.is_absolute() else self.home / path)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    home = Path(env.HOME.get(environ) or Path.cwd() / ".ml_assets").expanduser().resolve()
    config_path = Path(env.CONFIG.get(environ) or DEFAULT_CONFIG).expanduser().resolve()
    tracking = env.MLFLOW_TRACKING_URI.get(environ) or f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    return Settings(
        config_path=config_path,
        home=home,
        mlflow_tracking_uri=tracking,
        mlflow_registry_uri=env.MLFLOW_REGISTRY_URI.get(environ) or tracking,
        dependency_audit=env.DEPENDENCY_AUDIT.get(environ),
        storage=env.STORAGE.get(environ) or "",
        reports=env.REPORTS.get(environ) or "",
        model_store=env.MODEL_STORE.get(environ) or str(home / "model_store"),
    )
