"""Resources: the only code that talks to the outside world (files, Great Expectations, MLflow)."""

from __future__ import annotations

from typing import Any

from ml_assets.config import PipelineConfig
from ml_assets.settings import Settings


def build_resources(settings: Settings, config: PipelineConfig) -> dict[str, Any]:
    """The embedded default: everything in the state folder. Settings alone switch to remote services."""
    from ml_assets.resources.io_manager import ParquetJsonIOManager
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.resources.reports import ReportStore
    from ml_assets.resources.validation import GreatExpectationsValidator

    reports = settings.reports_dir / config.name
    return {
        "io_manager": ParquetJsonIOManager(base_dir=str(settings.storage_dir / config.name)),
        "landing": LandingFolder(path=str(settings.landing_dir(config.dataset.landing_dir))),
        "validator": GreatExpectationsValidator(docs_dir=str(reports / "data_docs")),
        "registry": MlflowRegistry(
            tracking_uri=settings.mlflow_tracking_uri,
            registry_uri=settings.mlflow_registry_uri,
            artifact_root=str(settings.mlflow_dir / "artifacts")
            if settings.mlflow_tracking_uri.startswith("sqlite")
            else None,
        ),
        "reports": ReportStore(base_dir=str(reports)),
        "platform": serving_platform(settings, config),
    }


def serving_platform(settings: Settings, config: PipelineConfig) -> Any:
    """The embedded serving platform as the config's deployment section places it."""
    from ml_assets.resources.local_platform import LocalServingPlatform

    deployment = config.deployment
    return LocalServingPlatform(
        home=str(settings.home),
        host=deployment.host,
        staging_port=deployment.staging_port,
        production_port=deployment.production_port,
        config_path=str(settings.config_path),
    )
