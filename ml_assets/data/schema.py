"""Bring landing files to the schema's dtypes, rejecting what cannot be loaded with a message naming the problem.

Structural problems (an empty or unreadable file, a missing or extra column, a value that is not of the column's
type) are rejected here, at load, naming the file, the column and how many values. Content problems (nulls,
ranges, duplicates, freshness) are left to the validation suite, which reports them as blocking checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_assets.config import ColumnSpec, SchemaConfig

SOURCE_FILE_COLUMN = "_source_file"
PANDAS_DTYPES = {
    "int": "Int64",
    "float": "float64",
    "datetime": "datetime64[ns]",
    "string": "string",
    "bool": "boolean",
}


class DataLoadError(ValueError):
    """A landing file cannot be loaded as the schema describes."""


def _examples(values: pd.Series, limit: int = 5) -> str:
    return ", ".join(repr(v) for v in values.head(limit).tolist())


def _coerce_column(values: pd.Series, spec: ColumnSpec, *, column: str, source: str) -> pd.Series:
    present = values.notna()
    if spec.type in ("int", "float"):
        numbers = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_numeric_dtype(values) else values
        if pd.api.types.is_bool_dtype(numbers):
            numbers = numbers.astype("float64")
        bad = present & numbers.isna()
        if spec.type == "int":
            as_float = numbers.astype("float64")
            finite = np.isfinite(as_float.fillna(0))
            bad |= present & ~bad & (~finite | (as_float.fillna(0) % 1 != 0))
        if bad.any():
            raise DataLoadError(
                f"{source}: column {column}: {int(bad.sum())} of {len(values)} values are not {spec.type} "
                f"(examples: {_examples(values[bad])})"
            )
        return numbers.astype(PANDAS_DTYPES[spec.type])
    if spec.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(values):
            stamps = values
        else:
            stamps = pd.to_datetime(values, errors="coerce", format="mixed")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = present & stamps.isna()
        if bad.any():
            raise DataLoadError(
                f"{source}: column {column}: {int(bad.sum())} of {len(values)} values are not timestamps "
                f"(examples: {_examples(values[bad])})"
            )
        return stamps.astype(PANDAS_DTYPES["datetime"])
    if spec.type == "bool":
        mapped = values.map({True: True, False: False, "true": True, "false": False})
        bad = present & mapped.isna()
        if bad.any():
            count, examples = int(bad.sum()), _examples(values[bad])
            raise DataLoadError(f"{source}: column {column}: {count} values are not booleans (examples: {examples})")
        return mapped.astype("boolean")
    return values.astype("string")


def conform(frame: pd.DataFrame, schema: SchemaConfig, source: str) -> pd.DataFrame:
    """The file's records with exactly the schema's columns, in order, at the schema's dtypes."""
    if frame.empty:
        raise DataLoadError(f"{source}: the file has no rows")
    expected = list(schema.columns)
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in schema.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        raise DataLoadError(f"{source}: {' and '.join(parts)} (the schema has {len(expected)} columns: {expected})")
    columns = {
        name: _coerce_column(frame[name], spec, column=name, source=source) for name, spec in schema.columns.items()
    }
    return pd.DataFrame(columns, index=frame.index)


def concat_sources(frames: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Concatenate conformed files, remembering each row's file so validation can say where a bad row is."""
    if not frames:
        raise DataLoadError("no landing files to load")
    parts = []
    for name, frame in frames:
        part = frame.copy()
        part[SOURCE_FILE_COLUMN] = name
        parts.append(part)
    combined = pd.concat(parts, ignore_index=True)
    combined[SOURCE_FILE_COLUMN] = combined[SOURCE_FILE_COLUMN].astype("category")
    return combined
