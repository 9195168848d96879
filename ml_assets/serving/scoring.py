"""Turn JSON records into model inputs, strictly, and score them on the fastest path each model kind offers."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


class InputError(ValueError):
    """A request the model cannot score; ``field`` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        return {"error": str(self), **({"field": self.field} if self.field else {})}


def _fast_predict(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Positive-class probabilities from a float matrix in feature order, skipping per-call DataFrame work."""
    if type(model).__module__.startswith("xgboost"):
        booster = model.get_booster()
        # One thread: XGBoost's OpenMP threads spin-wait after every call, so at 100 single-record calls/s a booster
        # with two burns CPU between calls and its p99 is many times its median (benchmarks/serving_tail.py).
        booster.set_param({"nthread": 1})
        return lambda matrix: np.asarray(booster.inplace_predict(matrix), dtype=np.float64).reshape(-1)
    if "n_jobs" in getattr(model, "get_params", dict)():
        model.set_params(n_jobs=1)  # threads cost more than they save on one record or a hundred
    # Fitted on DataFrames, sklearn warns on plain arrays; the column order is checked once, at load.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    return lambda matrix: model.predict_proba(matrix)[:, 1]


@dataclass
class Scorer:
    model: Any
    features: list[str]
    threshold: float
    name: str
    version: str
    max_records: int = 1000

    def __post_init__(self) -> None:
        self._index = {name: i for i, name in enumerate(self.features)}
        self._predict = _fast_predict(self.model)
        known = list(getattr(self.model, "feature_names_in_", self.features))
        if known != self.features:
            raise ValueError(f"model expects features {known}, scorer was given {self.features}")

    def matrix(self, records: list[Any]) -> np.ndarray:
        """Records (objects keyed by feature name) as a float matrix; any bad field is an InputError."""
        if not records:
            raise InputError("no records to score")
        if len(records) > self.max_records:
            raise InputError(f"{len(records)} records in one request; at most {self.max_records}")
        matrix = np.empty((len(records), len(self.features)), dtype=np.float64)
        for row, record in enumerate(records):
            where = f"record {row}: " if len(records) > 1 else ""
            if isinstance(record, list):
                if len(record) != len(self.features):
                    raise InputError(f"{where}{len(record)} values for {len(self.features)} features {self.features}")
                record = dict(zip(self.features, record, strict=True))
            if not isinstance(record, dict):
                raise InputError(f"{where}a record must be an object of feature values, got {type(record).__name__}")
            if len(record) != len(self.features) or record.keys() != self._index.keys():
                unknown = sorted(set(record) - set(self._index))
                if unknown:
                    raise InputError(f"{where}unknown field {unknown[0]!r}", unknown[0])
                missing = [f for f in self.features if f not in record]
                raise InputError(f"{where}missing field {missing[0]!r}", missing[0])
            for name, value in record.items():
                if type(value) not in (int, float):
                    raise InputError(f"{where}field {name!r} must be a number, got {type(value).__name__}", name)
                if not math.isfinite(value):
                    raise InputError(f"{where}field {name!r} must be finite, got {value}", name)
                matrix[row, self._index[name]] = value
        return matrix

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return self._predict(matrix)


def mlflow_records(payload: Any, features: list[str]) -> list[Any]:
    """Records from the MLflow scoring protocol (dataframe_split, dataframe_records, instances, inputs)."""
    if not isinstance(payload, dict):
        raise InputError("the body must be a JSON object with dataframe_split, dataframe_records, instances or inputs")
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in payload]
    if len(keys) != 1:
        raise InputError("the body must have exactly one of dataframe_split, dataframe_records, instances, inputs")
    body = payload[keys[0]]
    if keys[0] == "dataframe_split":
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise InputError("dataframe_split needs 'columns' and 'data' lists", "dataframe_split")
        columns = body.get("columns", features)
        if not isinstance(columns, list) or not all(isinstance(column, str) for column in columns):
            raise InputError("dataframe_split.columns must be a list of names", "dataframe_split.columns")
        rows = body["data"]
        if not all(isinstance(row, list) and len(row) == len(columns) for row in rows):
            raise InputError(f"every dataframe_split row needs {len(columns)} values", "dataframe_split.data")
        return [dict(zip(columns, row, strict=True)) for row in rows]
    if not isinstance(body, list):
        raise InputError(f"{keys[0]} must be a list of records", keys[0])
    return body
