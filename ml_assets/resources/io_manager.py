"""Asset values on disk without pickle: DataFrames as Parquet, everything else as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext


class ParquetJsonIOManager(ConfigurableIOManager):
    """Stores each asset under ``base_dir`` as ``<key>.parquet`` (DataFrames) or ``<key>.json`` (plain data).

    Files are written to a temporary name and renamed, so a crashed step never leaves a half-written value.
    """

    base_dir: str

    def _path(self, context: OutputContext | InputContext) -> Path:
        return Path(self.base_dir).joinpath(*context.asset_key.path)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pd.DataFrame):
            target = path.with_suffix(".parquet")
            tmp = target.with_suffix(".parquet.tmp")
            obj.to_parquet(tmp, index=False)
            stale = path.with_suffix(".json")
        else:
            target = path.with_suffix(".json")
            tmp = target.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(obj, indent=2, default=str))
            stale = path.with_suffix(".parquet")
        os.replace(tmp, target)
        stale.unlink(missing_ok=True)
        context.add_output_metadata({"path": str(target)})

    def load_input(self, context: InputContext) -> Any:
        path = self._path(context)
        if path.with_suffix(".parquet").exists():
            return pd.read_parquet(path.with_suffix(".parquet"))
        if path.with_suffix(".json").exists():
            return json.loads(path.with_suffix(".json").read_text())
        raise FileNotFoundError(
            f"asset {context.asset_key.to_user_string()} has not been materialized yet (no file under {path.parent})"
        )
