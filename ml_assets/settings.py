"""Where ml_assets keeps its state, read from the environment.

Every path a user may want elsewhere comes from one environment variable:

- ``ML_ASSETS_CONFIG``: the pipeline config (default: the fraud config shipped with the package).
- ``ML_ASSETS_HOME``: the state folder with landing data, the Dagster instance, the MLflow store and reports
  (default: ``.ml_assets`` in the current directory, which the repository ignores).
- ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``: a remote MLflow server; default SQLite in the state folder.
- ``DAGSTER_HOME``: the Dagster instance; the Makefile points it into the state folder.
- ``ML_ASSETS_STORAGE``: where asset values live, a folder or ``s3://bucket/prefix`` (default: the state
  folder's ``storage``); CI jobs on different machines share a run's values through S3.
- ``ML_ASSETS_DEPENDENCY_AUDIT``: ``off`` skips pip-audit (reported as "not run", a warning), for machines that
  must not reach the advisory database; default ``on``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def storage_for(self, pipeline: str) -> str:
        """Where a pipeline's asset values live (a folder or an S3 prefix)."""
        base = self.storage or str(self.home / "storage")
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


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("ML_ASSETS_HOME") or Path.cwd() / ".ml_assets").expanduser().resolve()
    config_path = Path(env.get("ML_ASSETS_CONFIG") or DEFAULT_CONFIG).expanduser().resolve()
    default_tracking = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    tracking = env.get("MLFLOW_TRACKING_URI") or default_tracking
    registry = env.get("MLFLOW_REGISTRY_URI") or tracking
    audit = env.get("ML_ASSETS_DEPENDENCY_AUDIT", "on").strip().lower() not in ("off", "0", "false", "no")
    return Settings(
        config_path=config_path,
        home=home,
        mlflow_tracking_uri=tracking,
        mlflow_registry_uri=registry,
        dependency_audit=audit,
        storage=env.get("ML_ASSETS_STORAGE", ""),
    )
