"""The landing folder: where new data files arrive (one file per day for the fraud simulator)."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from ml_assets.data.schema import DataLoadError

SUFFIXES = (".parquet", ".csv")


class LandingFolder(ConfigurableResource):
    """Lists, reads and writes landing files. Writes are atomic so readers never see a partial file."""

    path: str

    def files(self) -> list[Path]:
        root = Path(self.path)
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))

    def read(self, path: Path) -> tuple[pd.DataFrame, str]:
        """The file's records and the SHA-256 of the bytes they were parsed from (read once)."""
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if not content:
            raise DataLoadError(f"{path.name}: the file is empty (0 bytes)")
        try:
            if path.suffix == ".parquet":
                return pd.read_parquet(io.BytesIO(content)), digest
            with warnings.catch_warnings():
                # Rows longer than the header would silently become an index or lose data: reject them.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(io.BytesIO(content), index_col=False), digest
        except pd.errors.EmptyDataError:
            raise DataLoadError(f"{path.name}: the file has no header and no rows") from None
        except Exception as error:  # pyarrow and the CSV parser raise many types; all mean "not readable"
            kind = "Parquet" if path.suffix == ".parquet" else "CSV"
            raise DataLoadError(f"{path.name}: not a valid {kind} file ({type(error).__name__}: {error})") from None

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        root = Path(self.path)
        root.mkdir(parents=True, exist_ok=True)
        target = root / name
        tmp = root / f".{name}.tmp"
        if target.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, target)
        return target
