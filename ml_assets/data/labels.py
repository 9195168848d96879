"""A day's labels apart from its records (pure).

Fraud labels arrive late (chargebacks, investigations) and are corrected after the day was loaded. With daily
partitions a day's landing file is stored as two assets: ``raw_data`` (the records, every column but the target)
and ``labels`` (id and target), each with a version of its own content. A correction that changes only labels
leaves the records' version alone, so only what reads labels runs again: the features whose label windows (behind
the delay) cover the day, and the training data and monitoring that join the labels to the features.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from ml_assets.config import SchemaConfig
from ml_assets.provenance import DATA_VERSION_ATTR


class MissingLabelsError(ValueError):
    """Records whose labels are not stored (their day's labels are missing, quarantined or from another file)."""


def content_version(frame: pd.DataFrame) -> str:
    """A version of a frame's columns and values (not its row order's index): equal frames, equal versions."""
    digest = hashlib.sha256("\0".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


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
            f"day {day}: {missing} of {len(records)} records have no stored label (labels and raw_data of the day "
            "come from different files): re-materialize raw_data for the day"
        )
    return records.assign(**{schema.target: labels[schema.target].to_numpy("int64")[positions]})
