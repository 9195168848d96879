"""Asset values without pickle: DataFrames as Parquet, everything else as JSON, in a folder or an S3 prefix."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from ml_assets.resources.storage import open_store


class ParquetJsonIOManager(ConfigurableIOManager):
    """Stores each asset under ``base_dir`` (a folder or ``s3://bucket/prefix``) as ``<key>.parquet``
    (DataFrames) or ``<key>.json`` (plain data). Objects are written whole, so a crashed step never leaves a
    half-written value.
    """

    base_dir: str

    def _name(self, context: OutputContext | InputContext) -> str:
        return "/".join(context.asset_key.path)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        store, name = open_store(self.base_dir), self._name(context)
        if isinstance(obj, pd.DataFrame):
            buffer = io.BytesIO()
            obj.to_parquet(buffer, index=False)
            target, stale = f"{name}.parquet", f"{name}.json"
            store.write(target, buffer.getvalue())
        else:
            target, stale = f"{name}.json", f"{name}.parquet"
            store.write(target, json.dumps(obj, indent=2, default=str).encode())
        store.delete(stale)
        context.add_output_metadata({"path": f"{store.url}/{target}"})

    def load_input(self, context: InputContext) -> Any:
        store, name = open_store(self.base_dir), self._name(context)
        try:
            return pd.read_parquet(io.BytesIO(store.read(f"{name}.parquet")))
        except FileNotFoundError:
            pass
        try:
            return json.loads(store.read(f"{name}.json"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"asset {context.asset_key.to_user_string()} has not been materialized yet (nothing at "
                f"{store.url}/{name}.parquet or .json)"
            ) from None
