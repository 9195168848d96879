"""Where ml_assets keeps its state, read from the environment.

Every path a user may want elsewhere comes from one environment variable:

- ``ML_ASSETS_CONFIG``: the pipeline config (default: the fraud config shipped with the package).
- ``ML_ASSETS_HOME``: the state folder with landing data, the Dagster instance, the MLflow store and reports
  (default: ``.ml_assets`` in the current directory, which the repository ignores).
- ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``: a remote MLflow server; default SQLite in the state folder.
- ``DAGSTER_HOME``: the Dagster instance; the Makefile points it into the state folder.
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

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def storage_dir(self) -> Path:
        return self.home / "storage"

    def landing_dir(self, relative: str) -> Path:
        """A landing folder named in the config; relative paths live in the state folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.home / path


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
    )
