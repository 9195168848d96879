"""Resources: the only code that talks to the outside world (files, Great Expectations, MLflow)."""

from __future__ import annotations

from typing import Any

from ml_assets.config import PipelineConfig
from ml_assets.settings import PACKAGE_DIR, Settings


def build_resources(settings: Settings, config: PipelineConfig) -> dict[str, Any]:
    """The embedded default: everything in the state folder. Settings alone switch to remote services."""
    from ml_assets.resources.io_manager import ParquetJsonIOManager
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.resources.reports import ReportStore
    from ml_assets.resources.security import SecurityScanner
    from ml_assets.resources.validation import GreatExpectationsValidator

    reports = settings.reports_dir / config.name
    return {
        "io_manager": ParquetJsonIOManager(base_dir=settings.storage_for(config.name)),
        "landing": LandingFolder(path=settings.resolve_location(config.dataset.landing_dir)),
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
        "metrics": metrics_resource(settings, config),
        "security": SecurityScanner(
            package_dir=str(PACKAGE_DIR), requirements=_lock_file(), audit_enabled=settings.dependency_audit
        ),
    }


def metrics_resource(settings: Settings, config: PipelineConfig) -> Any:
    """Metrics in SQLite in the state folder, or in CloudWatch (monitoring.metrics)."""
    from ml_assets.resources.metrics import MetricsResource

    if config.monitoring.metrics == "cloudwatch":
        aws = config.deployment.aws
        return MetricsResource(backend="cloudwatch", region=aws.region, endpoint_url=aws.endpoint_url)
    return MetricsResource(backend="local", path=str(settings.home / "metrics" / f"{config.name}.db"))


def _lock_file() -> str | None:
    """The pinned set: requirements.lock beside the package (a checkout, or the image's /opt/ml_assets)."""
    path = PACKAGE_DIR.parent / "requirements.lock"
    return str(path) if path.exists() else None


def serving_platform(settings: Settings, config: PipelineConfig) -> Any:
    """The serving platform the config's deployment section names: local processes, or ECS behind an ALB."""
    deployment = config.deployment
    if deployment.platform == "aws":
        from ml_assets.resources.aws.alb import AlbResource
        from ml_assets.resources.aws.cloudwatch import CloudWatchResource
        from ml_assets.resources.aws.ecs import EcsResource
        from ml_assets.resources.aws.platform import AwsServingPlatform

        aws = deployment.aws
        connection = {"region": aws.region, "endpoint_url": aws.endpoint_url, "max_attempts": aws.max_attempts}
        return AwsServingPlatform(
            ecs=EcsResource(**connection),
            alb=AlbResource(**connection),
            cloudwatch=CloudWatchResource(**connection),
            project=aws.project,
            listener_port=aws.listener_port,
            desired_count=aws.desired_count,
            stabilize_timeout_seconds=aws.stabilize_timeout_seconds,
            poll_seconds=aws.poll_seconds,
            metrics_namespace=aws.metrics_namespace,
            public_urls=dict(aws.public_urls),
            traffic_log=settings.resolve_location(aws.traffic_log) if aws.traffic_log else None,
            state_location=settings.resolve_location(aws.state_location)
            if aws.state_location
            else str(settings.home / "rollouts"),
        )
    from ml_assets.resources.local_platform import LocalServingPlatform

    return LocalServingPlatform(
        home=str(settings.home),
        host=deployment.host,
        staging_port=deployment.staging_port,
        production_port=deployment.production_port,
        config_path=str(settings.config_path),
    )
