"""Train/test splits: by time with a delay gap (the handbook's protocol) or random and stratified."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_assets.config import RandomSplit, TimeSplit
from ml_assets.features.build import FeatureFrame

SPLIT_COLUMN = "split"


class SplitError(ValueError):
    """The data cannot be split as the config asks (too few days, a single class...)."""


def local_day(stamps: pd.Series, timezone: str) -> pd.Series:
    """The day of each naive-UTC timestamp in ``timezone``, as a naive midnight."""
    if timezone == "UTC":
        return stamps.dt.normalize()
    return stamps.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()


def time_split(features: FeatureFrame, split: TimeSplit, *, timezone: str = "UTC") -> pd.DataFrame:
    """Train on ``train_days``, skip ``gap_days`` (labels not yet known), test on ``test_days``.

    Test days keep their natural prevalence. With ``exclude_known_entities``, each test day drops the entities
    (cards) already known to be compromised: frauds in the training period or in test-period days whose labels
    would have arrived by then, as the handbook does.
    """
    frame = features.frame
    day = local_day(frame[features.timestamp], timezone)
    first_day, last_day = day.min(), day.max()
    if split.train_start is not None:
        train_start = pd.Timestamp(split.train_start)
    else:
        train_start = last_day - pd.Timedelta(days=split.train_days + split.gap_days + split.test_days - 1)
    test_start = train_start + pd.Timedelta(days=split.train_days + split.gap_days)
    test_end = test_start + pd.Timedelta(days=split.test_days)
    needed = split.train_days + split.gap_days + split.test_days
    if train_start < first_day or test_end - pd.Timedelta(days=1) > last_day:
        raise SplitError(
            f"split: the data covers {first_day.date()}..{last_day.date()} "
            f"({(last_day - first_day).days + 1} days) but train {train_start.date()} + gap + test needs "
            f"{needed} days ending {(test_end - pd.Timedelta(days=1)).date()}"
        )
    train_mask = (day >= train_start) & (day < train_start + pd.Timedelta(days=split.train_days))
    test_mask = (day >= test_start) & (day < test_end)
    test_mask &= (
        ~_known_compromised(frame, features, train_start=train_start, split=split, day=day)
        if split.exclude_known_entities
        else True
    )
    out = frame[train_mask | test_mask].copy()
    out[SPLIT_COLUMN] = np.where(train_mask[train_mask | test_mask], "train", "test")
    return out.reset_index(drop=True)


def _known_compromised(
    frame: pd.DataFrame, features: FeatureFrame, *, train_start: pd.Timestamp, split: TimeSplit, day: pd.Series
) -> pd.Series:
    if not features.entity:
        raise SplitError("split: exclude_known_entities needs schema.entity_column")
    entity, label = frame[features.entity], frame[features.target] == 1
    train_end = train_start + pd.Timedelta(days=split.train_days)
    known = set(entity[label & (day >= train_start) & (day < train_end)])
    test_start = train_end + pd.Timedelta(days=split.gap_days)
    excluded = pd.Series(False, index=frame.index)
    for offset in range(split.test_days):
        # Labels of the day before "train_end + offset" have arrived by the test day (delay = gap).
        revealed_day = train_end + pd.Timedelta(days=offset - 1)
        known |= set(entity[label & (day == revealed_day)])
        today = day == test_start + pd.Timedelta(days=offset)
        excluded |= today & entity.isin(known)
    return excluded


def random_split(features: FeatureFrame, split: RandomSplit) -> pd.DataFrame:
    from sklearn.model_selection import train_test_split

    frame = features.frame
    labels = frame[features.target]
    if labels.nunique() < 2:
        raise SplitError(f"split: target {features.target!r} has a single class; cannot stratify")
    train_idx, _ = train_test_split(frame.index, test_size=split.test_size, random_state=split.seed, stratify=labels)
    out = frame.copy()
    out[SPLIT_COLUMN] = np.where(out.index.isin(train_idx), "train", "test")
    return out.reset_index(drop=True)


def split_dataset(features: FeatureFrame, split: TimeSplit | RandomSplit, *, timezone: str = "UTC") -> pd.DataFrame:
    """The feature frame restricted to the train and test rows, with a ``split`` column; days of a time split run
    midnight to midnight in ``timezone`` (the daily partitions')."""
    if isinstance(split, TimeSplit):
        out = time_split(features, split, timezone=timezone)
    else:
        out = random_split(features, split)
    for part in ("train", "test"):
        labels = out.loc[out[SPLIT_COLUMN] == part, features.target]
        if labels.nunique() < 2:
            raise SplitError(
                f"split: the {part} set has {len(labels)} rows and only class(es) {sorted(labels.unique())}; "
                "both classes are needed"
            )
    return out
