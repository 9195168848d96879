"""The security scan: bandit over the package, pip-audit over the pinned set. Its checks gate staging."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, MetadataValue, Output, asset

from ml_assets.resources.security import SecurityScanner
from ml_assets.security.scan import audit_outcome, bandit_findings, bandit_unscanned, unjustified_nosec


def build_security_assets() -> list[AssetsDefinition]:
    @asset(
        group_name="deployment",
        kinds={"python"},
        description="Static analysis of the package (bandit) and an audit of the pinned dependencies (pip-audit); "
        "its blocking checks gate the staging deployment.",
    )
    def security_scan(context: AssetExecutionContext, security: SecurityScanner) -> Output[dict]:
        root = Path(security.package_dir)
        report = security.bandit()
        bandit = bandit_findings(report, root)
        unscanned = bandit_unscanned(report, root)
        nosec = unjustified_nosec(security.source_files())
        audit = audit_outcome(*security.pip_audit())
        context.log.info(
            f"bandit: {len(bandit)} medium/high findings, {len(unscanned)} files not scanned; {audit.summary}"
        )
        value = {
            "bandit_findings": [str(f) for f in bandit],
            "unscanned_files": unscanned,
            "unjustified_nosec": nosec,
            "audit_status": audit.status,
            "audit_summary": audit.summary,
            "vulnerabilities": audit.vulnerabilities,
            "audited_packages": audit.audited,
            "unaudited_packages": audit.unaudited,
        }
        return Output(
            value,
            metadata={
                "bandit_findings": len(bandit),
                "unscanned_files": len(unscanned),
                "audit": audit.status,
                "audited_packages": audit.audited,
                "unaudited_packages": len(audit.unaudited),
                "vulnerabilities": MetadataValue.json(audit.vulnerabilities),
            },
        )

    return [security_scan]
