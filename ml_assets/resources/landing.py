"""The landing folder: where new data files arrive (one file per day for the fraud simulator).

A folder on this machine, or an S3 prefix (``s3://bucket/prefix``) read through dagster-aws's S3Resource.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import PurePosixPath

import pandas as pd
from dagster import ConfigurableResource

from ml_assets.data.schema import DataLoadError
from ml_assets.resources.storage import ObjectStore, StoredObject, UnsafePathError, open_store

SUFFIXES = (".parquet", ".csv")


class LandingFolder(ConfigurableResource):
    """Lists, reads and writes landing files. Writes are atomic so readers never see a partial file."""

    path: str

    @property
    def store(self) -> ObjectStore:
        return open_store(self.path)

    def files(self) -> list[StoredObject]:
        """The landing files (Parquet or CSV), by name, with a version that changes when a file changes."""
        return [item for item in self.store.list() if PurePosixPath(item.name).suffix in SUFFIXES]

    def read(self, name: str) -> tuple[pd.DataFrame, str]:
        """The file's records and the SHA-256 of the bytes they were parsed from (read once)."""
        try:
            content = self.store.read(name)
        except UnsafePathError as error:
            raise DataLoadError(f"{name}: {error}") from None
        digest = hashlib.sha256(content).hexdigest()
        suffix = PurePosixPath(name).suffix
        if not content:
            raise DataLoadError(f"{name}: the file is empty (0 bytes)")
        try:
            if suffix == ".parquet":
                return pd.read_parquet(io.BytesIO(content)), digest
            with warnings.catch_warnings():
                # Rows longer than the header would silently become an index or lose data: reject them.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(io.BytesIO(content), index_col=False), digest
        except pd.errors.EmptyDataError:
            raise DataLoadError(f"{name}: the file has no header and no rows") from None
        except Exception as error:  # pyarrow and the CSV parser raise many types; all mean "not readable"
            kind = "Parquet" if suffix == ".parquet" else "CSV"
            raise DataLoadError(f"{name}: not a valid {kind} file ({type(error).__name__}: {error})") from None

    def write(self, frame: pd.DataFrame, name: str) -> str:
        """Write ``frame`` as ``name`` (Parquet or CSV by its suffix); returns where it went."""
        buffer = io.BytesIO()
        if PurePosixPath(name).suffix == ".parquet":
            frame.to_parquet(buffer, index=False)
        else:
            frame.to_csv(buffer, index=False)
        store = self.store
        store.write(name, buffer.getvalue())
        return f"{store.url}/{name}"
