"""Runs the security scanners (bandit, pip-audit) as subprocesses of this environment and returns their JSON."""

from __future__ import annotations

import json
import subprocess  # nosec B404  # fixed argument lists of our own tools, never a shell
import sys
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

BIN = Path(sys.executable).parent


class SecurityScanner(ConfigurableResource):
    """Where the package and its pinned requirements are, and how long the audit may take."""

    package_dir: str
    requirements: str | None = Field(default=None, description="The pinned set; default: the environment itself.")
    audit_timeout_seconds: float = 300.0
    audit_enabled: bool = Field(default=True, description="False: the audit is reported as not run (a warning).")

    def bandit(self) -> dict[str, Any]:
        done = subprocess.run(  # nosec B603  # our own executable and arguments
            [str(BIN / "bandit"), "-r", self.package_dir, "-f", "json", "-q"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if not done.stdout.strip():
            raise RuntimeError(f"bandit produced no report (exit {done.returncode}): {done.stderr[-2000:]}")
        return json.loads(done.stdout)

    def pip_audit(self) -> tuple[dict[str, Any] | None, str | None]:
        """(report, None), or (None, why it could not run)."""
        if not self.audit_enabled:
            return None, "turned off (ML_ASSETS_DEPENDENCY_AUDIT=off)"
        command = [str(BIN / "pip-audit"), "-f", "json", "--progress-spinner", "off"]
        if self.requirements:
            if not Path(self.requirements).is_file():
                # auditing this environment instead would pass a set that is not the one deployed
                return None, f"the pinned set {self.requirements} does not exist: nothing was audited"
            command += ["-r", self.requirements, "--no-deps", "--disable-pip"]
        try:
            done = subprocess.run(  # nosec B603  # our own executable and arguments
                command, capture_output=True, text=True, timeout=self.audit_timeout_seconds
            )
        except subprocess.TimeoutExpired:
            return None, f"pip-audit did not finish in {self.audit_timeout_seconds:g} s"
        try:
            return json.loads(done.stdout), None
        except ValueError:
            return None, f"pip-audit failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"

    def source_files(self) -> dict[str, str]:
        root = Path(self.package_dir)
        return {str(path.relative_to(root.parent)): path.read_text() for path in sorted(root.rglob("*.py"))}
