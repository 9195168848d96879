"""Reports (plots, comparison tables, drift pages, rollout records, Data Docs) kept in an object store.

The store is the state folder's ``reports`` or an S3 prefix (``ML_ASSETS_REPORTS``), so on AWS a report outlives
the task that wrote it; asset metadata links each report by the URL the store gives it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from ml_assets.resources.storage import ObjectStore, open_store


class ReportStore(ConfigurableResource):
    """Reports of one pipeline under ``location`` (a folder or ``s3://bucket/prefix``)."""

    location: str

    def store(self) -> ObjectStore:
        return open_store(self.location)

    def write(self, name: str, content: bytes | str | dict[str, Any]) -> str:
        """Keep ``content`` as ``name`` (a dict as JSON); the URL that opens it."""
        if isinstance(content, dict):
            data = json.dumps(content, indent=2, default=str).encode()
        elif isinstance(content, str):
            data = content.encode()
        else:
            data = content
        store = self.store()
        store.write(name, data)
        return store.link(name)

    def write_folder(self, prefix: str, folder: Path) -> None:
        """Keep every file under ``folder`` below ``prefix`` (a generated site such as Data Docs)."""
        store = self.store()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            store.write(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())

    def link(self, name: str) -> str:
        return self.store().link(name)
