"""Resources: the only code that talks to the outside world (files, object stores, Great Expectations, MLflow,
the serving platform, metrics)."""

from __future__ import annotations

from typing import Any

from ml_assets.config import PipelineConfig
from ml_assets.settings import PACKAGE_DIR, Settings


def build_resources(settings: Settings, config: PipelineConfig) -> dict[str, Any]:
    """The embedded default: everything in the state folder. Settings and the config switch to remote services."""
    from ml_assets.resources.compute import training_compute
    from ml_assets.resources.io_manager import ParquetJsonIOManager
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.resources.metrics import metrics_store
    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.resources.platform import serving_platform
    from ml_assets.resources.reports import ReportStore
    from ml_assets.resources.security import SecurityScanner
    from ml_assets.resources.validation import GreatExpectationsValidator

    reports = ReportStore(location=settings.reports_for(config.name))
    return {
        "io_manager": ParquetJsonIOManager(base_dir=settings.storage_for(config.name)),
        "landing": LandingFolder(path=settings.resolve_location(config.dataset.landing_dir)),
        "validator": GreatExpectationsValidator(reports=reports),
        "registry": MlflowRegistry(
            tracking_uri=settings.mlflow_tracking_uri,
            registry_uri=settings.mlflow_registry_uri,
            model_store=settings.model_store,
            artifact_root=str(settings.mlflow_dir / "artifacts")
            if settings.mlflow_tracking_uri.startswith("sqlite")
            else None,
        ),
        "reports": reports,
        "platform": serving_platform(settings, config),
        "training": training_compute(config, storage=settings.storage_for(config.name)),
        "metrics": metrics_store(settings, config),
        "security": SecurityScanner(
            package_dir=str(PACKAGE_DIR), requirements=_lock_file(), audit_enabled=settings.dependency_audit
        ),
    }


def _lock_file() -> str:
    """The pinned set: requirements.lock beside the package (a checkout, or the image's /opt/ml_assets). When it is
    missing the audit says so (not run), rather than audit whatever this environment holds."""
    return str(PACKAGE_DIR.parent / "requirements.lock")
