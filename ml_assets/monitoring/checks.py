"""The drift check: a warning on moderate drift, a failure on severe drift (which the drift sensor retrains on)."""

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, MetadataValue, asset_check

from ml_assets.config import PipelineConfig


def build_monitoring_checks(config: PipelineConfig) -> list[AssetChecksDefinition]:
    @asset_check(
        asset="drift_report",
        description="Production traffic against the training data: moderate drift warns, severe drift fails.",
    )
    def drift(drift_report: dict) -> AssetCheckResult:
        severity = drift_report["severity"]
        return AssetCheckResult(
            passed=severity == "none",
            severity=AssetCheckSeverity.ERROR if severity == "severe" else AssetCheckSeverity.WARN,
            description="; ".join(drift_report["reasons"]) or "no drift",
            metadata={
                "severity": severity,
                "share_drifted": drift_report["share_drifted"],
                "drifted_features": MetadataValue.json(drift_report["drifted_features"]),
            },
        )

    return [drift]
