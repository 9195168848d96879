"""A day's labels apart from its records (pure).

Fraud labels arrive late (chargebacks, investigations) and are corrected after the day was loaded. With daily
partitions a day's landing file is stored as two assets: ``raw_data`` (the records, every column but the target)
and ``labels`` (id and target), each with a version of its own content. A correction that changes only labels
leaves the records' version alone, so only what reads labels runs again: the features whose label windows (behind
the delay) cover the day, and the training data and monitoring that join the labels to the features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ml_assets.config import SchemaConfig
from ml_assets.provenance import DATA_VERSION_ATTR


class MissingLabelsError(ValueError):
    """Records whose labels are not stored (their day's labels are missing, quarantined or from another file)."""


def content_version(frame: pd.DataFrame) -> str:
    """A version of a frame's columns and rows, whatever their order: a file rewritten with its rows in another
    order has the same version (each row's hash, sorted)."""
    digest = hashlib.sha256("\0".join(map(str, frame.columns)).encode())
    digest.update(np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy()).tobytes())
    return digest.hexdigest()[:16]


def only_labels_changed(
    *,
    records: Mapping[str, Any],
    labels: Mapping[str, Any],
    stored_records: Mapping[str, Any],
    stored_labels: Mapping[str, Any],
) -> bool:
    """Whether a day's new file changed its labels only: its records (``version``, ``passed``) equal the stored
    ones, both passed, and its labels' version differs from the stored labels' (a day never stored, a failed day
    or a plain re-run stores both)."""
    return (
        records["passed"]
        and stored_records.get("passed") is True
        and stored_records.get("version") == records["version"]
        and stored_labels.get("version") not in (None, labels["version"])
    )


def split_labels(frame: pd.DataFrame, schema: SchemaConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, labels) of one loaded day: the records without the target, the labels as id and target, each
    carrying the day's attributes (file, verdict) and the version of its own content."""
    records = frame.drop(columns=[schema.target])
    labels = frame[[schema.id_column, schema.target]].reset_index(drop=True)
    for part in (records, labels):
        part.attrs = {**frame.attrs, DATA_VERSION_ATTR: content_version(part)}
    return records, labels


def join_labels(records: pd.DataFrame, labels: pd.DataFrame, schema: SchemaConfig, *, day: str) -> pd.DataFrame:
    """``records`` with the target column from ``labels`` (by id); an error naming the day and the count when
    some records have no label."""
    # A hash join on the id (vectorized; Series.map on a nullable integer column runs row by row in Python).
    ids = pd.Index(labels[schema.id_column])
    if not ids.is_unique:
        raise MissingLabelsError(f"day {day}: the labels repeat {schema.id_column} values: one label per record")
    positions = ids.get_indexer(records[schema.id_column])
    missing = int((positions < 0).sum())
    if missing:
        raise MissingLabelsError(
            f"day {day}: {missing} of {len(records)} records have no stored label (the day's labels and records "
            "come from different files): re-materialize raw_data for the day, then what reads it"
        )
    return records.assign(**{schema.target: labels[schema.target].to_numpy("int64")[positions]})
