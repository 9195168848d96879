"""Versions that tie every model to the exact data and code it came from (in place of DVC)."""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DATA_VERSION_ATTR = "data_version"


def data_version(file_digests: dict[str, str]) -> str:
    """Content hash of a set of files: changes when any file is added, removed, renamed or edited."""
    digest = hashlib.sha256()
    for name in sorted(file_digests):
        digest.update(f"{name}\0{file_digests[name]}\n".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the package (suffixed ``-dirty`` with local edits), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "ml_assets"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{commit}-dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        try:
            return f"ml_assets-{version('ml_assets')}"
        except PackageNotFoundError:
            return "unknown"
