"""Blocking checks of the security scan: findings stop staging; an audit that could not run only warns."""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)


def build_security_checks() -> list[AssetChecksDefinition]:
    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                "static_analysis",
                asset="security_scan",
                blocking=True,
                description="No medium or high bandit finding, no file bandit could not analyse, and every '# nosec' "
                "names its test and a reason.",
            ),
            AssetCheckSpec(
                "dependency_audit",
                asset="security_scan",
                blocking=True,
                description="No known vulnerability in the pinned set; 'not run' (a warning) when the advisory "
                "database cannot be reached.",
            ),
        ],
    )
    def security_checks(context: AssetCheckExecutionContext, security_scan: dict) -> Iterator[AssetCheckResult]:
        problems = [
            *security_scan["bandit_findings"],
            *security_scan["unscanned_files"],
            *security_scan["unjustified_nosec"],
        ]
        yield AssetCheckResult(
            check_name="static_analysis",
            asset_key="security_scan",
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(problems[:20]) or "bandit: no medium or high finding",
            metadata={"findings": len(problems)},
        )
        status = security_scan["audit_status"]
        yield AssetCheckResult(
            check_name="dependency_audit",
            asset_key="security_scan",
            passed=status == "passed",
            severity=AssetCheckSeverity.WARN if status == "not_run" else AssetCheckSeverity.ERROR,
            description=security_scan["audit_summary"]
            + ("; " + "; ".join(security_scan["vulnerabilities"][:20]) if security_scan["vulnerabilities"] else ""),
            metadata={"status": status, "audited_packages": security_scan["audited_packages"]},
        )

    return [security_checks]
