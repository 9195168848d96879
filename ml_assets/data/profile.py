"""A column-by-column profile of the raw data (GE 1.x has no profiler)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml_assets.config import SchemaConfig


def _scalar(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def profile_frame(frame: pd.DataFrame, schema: SchemaConfig, top: int = 5) -> dict[str, Any]:
    """Type, missing share, distinct count, range, quantiles and top values per column, plus the target rate."""
    target = frame[schema.target].astype("float64")
    columns: dict[str, dict[str, Any]] = {}
    for name, spec in schema.columns.items():
        values = frame[name]
        entry: dict[str, Any] = {
            "type": spec.type,
            "dtype": str(values.dtype),
            "missing_share": float(values.isna().mean()),
            "distinct": int(values.nunique(dropna=True)),
        }
        present = values.dropna()
        if spec.type in ("int", "float") and len(present):
            numbers = present.astype("float64")
            quantiles = numbers.quantile([0.01, 0.25, 0.5, 0.75, 0.99])
            entry.update(
                min=_scalar(numbers.min()),
                max=_scalar(numbers.max()),
                mean=_scalar(numbers.mean()),
                std=_scalar(numbers.std()),
                quantiles={f"p{int(q * 100)}": _scalar(v) for q, v in quantiles.items()},
            )
        elif spec.type == "datetime" and len(present):
            entry.update(min=_scalar(present.min()), max=_scalar(present.max()))
        if entry["distinct"] <= 50 or spec.type in ("string", "bool"):
            counts = values.value_counts(dropna=True).head(top)
            rates = target.groupby(values).mean()
            entry["top_values"] = [
                {"value": _scalar(v), "count": int(c), "target_rate": _scalar(rates.get(v, np.nan))}
                for v, c in counts.items()
            ]
        columns[name] = entry
    return {"rows": len(frame), "target": schema.target, "target_rate": float(target.mean()), "columns": columns}


def profile_table(profile: dict[str, Any]) -> str:
    """The profile as a Markdown table for the Dagster UI."""
    lines = ["| column | type | missing | distinct | min | mean | max |", "|---|---|---|---|---|---|---|"]
    for name, col in profile["columns"].items():

        def fmt(value: Any) -> str:
            return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))

        lines.append(
            f"| {name} | {col['type']} | {col['missing_share']:.2%} | {col['distinct']} | "
            f"{fmt(col.get('min'))} | {fmt(col.get('mean'))} | {fmt(col.get('max'))} |"
        )
    return "\n".join(lines)
