"""The security gate: bandit findings block staging; an audit that cannot reach its database warns, never passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize

from ml_assets.resources.security import SecurityScanner
from ml_assets.security.assets import build_security_assets
from ml_assets.security.checks import build_security_checks
from ml_assets.security.scan import audit_outcome, bandit_findings, bandit_unscanned, unjustified_nosec
from ml_assets.settings import PACKAGE_DIR

CLEAN = "def add(a: int, b: int) -> int:\n    return a + b\n"
UNSAFE = """import subprocess


def run(command: str) -> None:
    subprocess.call(command, shell=True)
"""


def bandit_result(severity: str, test_id: str = "B602", line: int = 5) -> dict:
    return {
        "test_id": test_id,
        "issue_severity": severity,
        "issue_confidence": "HIGH",
        "filename": "/src/pkg/tool.py",
        "line_number": line,
        "issue_text": "subprocess call with shell=True identified",
    }


@pytest.mark.unit
def test_medium_and_high_findings_block_low_ones_do_not() -> None:
    report = {"results": [bandit_result("LOW", "B404"), bandit_result("MEDIUM"), bandit_result("HIGH", line=9)]}
    findings = bandit_findings(report, Path("/src/pkg"))
    assert [(f.severity, f.location) for f in findings] == [("MEDIUM", "pkg/tool.py:5"), ("HIGH", "pkg/tool.py:9")]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("urlopen(url)  # nosec B310  # scheme checked above", True),
        ("urlopen(url)  # nosec", False),
        ("urlopen(url)  # nosec B310", False),
        ("urlopen(url)  # nosec  # trust me, it is fine", False),
        ("urlopen(url)  # ordinary comment", True),
    ],
)
def test_a_nosec_needs_a_test_id_and_a_reason(line: str, ok: bool) -> None:
    problems = unjustified_nosec({"pkg/a.py": f"x = 1\n{line}\n"})
    assert (problems == []) is ok
    if not ok:
        assert problems[0].startswith("pkg/a.py:2:")


@pytest.mark.pipeline
def test_the_package_itself_passes_static_analysis() -> None:
    scanner = SecurityScanner(package_dir=str(PACKAGE_DIR))
    assert bandit_findings(scanner.bandit(), PACKAGE_DIR) == []
    assert unjustified_nosec(scanner.source_files()) == []


def audit_report(*dependencies: dict) -> dict:
    return {"dependencies": list(dependencies), "fixes": []}


@pytest.mark.unit
def test_audit_outcomes() -> None:
    clean = {"name": "numpy", "version": "2.4.6", "vulns": []}
    vulnerable = {
        "name": "requests",
        "version": "2.19.0",
        "vulns": [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": [], "description": ""}],
    }
    unreachable = {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    assert audit_outcome(audit_report(clean)).status == "passed"
    outcome = audit_outcome(audit_report(clean, vulnerable, unreachable))
    assert outcome.status == "vulnerable" and outcome.vulnerabilities == [
        "requests 2.19.0: PYSEC-2018-28 (fixed in 2.20.0)"
    ]
    # Every package skipped: pip-audit itself says "No known vulnerabilities found" - that is not a pass.
    assert audit_outcome(audit_report(unreachable)).status == "not_run"
    assert audit_outcome(audit_report(clean, unreachable)).status == "not_run"
    assert audit_outcome(None, "pip-audit did not finish in 300 s").summary.endswith("did not finish in 300 s")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The advisory database is unreachable: every HTTPS request goes to a closed loopback port."""
    for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def run_gate(tmp_path: Path, files: dict[str, str]):
    """The security gate over a package of ``files`` (name: source) and a one-line pinned set."""
    package = tmp_path / "pkg"
    package.mkdir()
    for name, source in files.items():
        (package / name).write_text(source)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")

    @asset(deps=["security_scan"])
    def staging_deployment() -> None:
        """Stands for the real staging deployment: it must not run when the gate fails."""

    scanner = SecurityScanner(package_dir=str(package), requirements=str(requirements), audit_timeout_seconds=120)
    return materialize(
        [*build_security_assets(), *build_security_checks(), staging_deployment],
        resources={"security": scanner},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.mark.pipeline
def test_a_high_finding_stops_staging_and_names_the_line(tmp_path: Path, offline: None) -> None:
    result = run_gate(tmp_path, {"tool.py": UNSAFE})
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["static_analysis"].passed
    assert "pkg/tool.py:5 B602 (HIGH/HIGH)" in checks["static_analysis"].description
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey("staging_deployment") not in materialized


@pytest.mark.pipeline
def test_a_file_bandit_cannot_parse_stops_staging_and_is_named(tmp_path: Path, offline: None) -> None:
    # Unscanned, broken.py would hide the shell call from bandit: it must not pass as clean.
    broken = "import subprocess\nsubprocess.call(cmd, shell=True\n"
    result = run_gate(tmp_path, {"fine.py": CLEAN, "broken.py": broken})
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["static_analysis"].passed
    assert "pkg/broken.py: not scanned by bandit" in checks["static_analysis"].description
    assert AssetKey("staging_deployment") not in {e.asset_key for e in result.get_asset_materialization_events()}


@pytest.mark.unit
def test_unscanned_files_are_named() -> None:
    report = {"errors": [{"filename": "/src/pkg/broken.py", "reason": "syntax error while parsing AST from file"}]}
    assert bandit_unscanned(report, Path("/src/pkg")) == [
        "pkg/broken.py: not scanned by bandit (syntax error while parsing AST from file)"
    ]
    assert bandit_unscanned({"errors": [], "results": []}, Path("/src/pkg")) == []


@pytest.mark.unit
def test_a_missing_pinned_set_is_not_an_audit_of_the_environment(tmp_path: Path) -> None:
    scanner = SecurityScanner(package_dir=str(tmp_path), requirements=str(tmp_path / "requirements.lock"))
    report, error = scanner.pip_audit()
    outcome = audit_outcome(report, error)
    assert report is None and outcome.status == "not_run"
    assert (
        outcome.summary
        == f"dependency audit not run: the pinned set {tmp_path}/requirements.lock does not exist: nothing was audited"
    )


@pytest.mark.pipeline
def test_an_unreachable_advisory_database_warns_and_lets_staging_run(tmp_path: Path, offline: None) -> None:
    result = run_gate(tmp_path, {"tool.py": CLEAN})
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["static_analysis"].passed
    audit = checks["dependency_audit"]
    assert not audit.passed and audit.severity.value == "WARN" and "not run" in audit.description
    assert AssetKey("staging_deployment") in {e.asset_key for e in result.get_asset_materialization_events()}
