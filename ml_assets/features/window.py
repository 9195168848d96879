"""Which days a model trains and tests on, when the features are daily partitions (pure).

The window is the split's train + gap + test days, ending on the newest featurized day (or starting on
``split.train_start``). It is used only when every day in it passed validation, has its labels, and its features
were computed from the raw days and labels as they are now; with ``split.skip_failed_days`` a failed day is left
out and named instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_assets.config import TimeSplit
from ml_assets.data.days import VERDICT_ATTR, day_range, shift
from ml_assets.features.incremental import INPUTS_ATTR, LABEL_INPUTS_ATTR
from ml_assets.provenance import DATA_VERSION_ATTR


class TrainingWindowError(ValueError):
    """The training window cannot be used as it is (a day missing, failed or featurized from older data)."""


@dataclass(frozen=True)
class TrainingWindow:
    days: list[str]  # the days read, in order
    skipped: list[str]  # failed days left out (split.skip_failed_days)
    train_start: str


def window_days(split: TimeSplit, *, newest: str | None) -> list[str]:
    """The window's days: train + gap + test, ending on ``newest`` (the newest featurized day) or starting on
    ``split.train_start``."""
    needed = split.train_days + split.gap_days + split.test_days
    if split.train_start is not None:
        start = split.train_start.isoformat()
    elif newest is not None:
        start = shift(newest, -(needed - 1))
    else:
        raise TrainingWindowError("no featurized day yet: materialize raw_data and features for the days first")
    return day_range([start, shift(start, needed - 1)])


def training_window(
    split: TimeSplit,
    *,
    first_partition: str,
    history_days: int,
    raw: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, Any]],
    features: Mapping[str, Mapping[str, Any]],
) -> TrainingWindow:
    """The window to train on; ``raw``, ``labels`` and ``features`` map stored days to their frame attributes (at
    least the window's days, and for raw and labels the history their features read)."""
    days = window_days(split, newest=max(features) if features else None)
    start = days[0]
    first_stored = min(raw) if raw else None
    if start < first_partition or (first_stored is not None and start < first_stored):
        first = max(first_partition, first_stored or first_partition)
        raise TrainingWindowError(
            f"the training window {days[0]}..{days[-1]} ({len(days)} days: train {split.train_days} + gap "
            f"{split.gap_days} + test {split.test_days}) reaches before the first day "
            f"{'of the partitions' if first == first_partition else 'of data'}, {first}; land earlier days or "
            "shorten the split"
        )
    problems, skipped = [], []
    for day in days:
        problem = _problem(day, raw, labels, features.get(day), history_days=history_days)
        if problem is None:
            continue
        if split.skip_failed_days and _blocked_by_a_failed_day(day, raw, history_days=history_days):
            skipped.append(day)
        else:
            problems.append(problem)
    if problems:
        raise TrainingWindowError(
            f"the training window {days[0]}..{days[-1]} cannot be used; nothing is trained on it:\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    if len(skipped) == len(days):
        raise TrainingWindowError(f"every day of the training window {days[0]}..{days[-1]} failed or read one that did")
    return TrainingWindow([d for d in days if d not in skipped], skipped, start)


def _passed(attrs: Mapping[str, Any] | None) -> bool:
    return bool(attrs is not None and (attrs.get(VERDICT_ATTR) or {}).get("passed"))


def _blocked_by_a_failed_day(day: str, raw: Mapping[str, Mapping[str, Any]], *, history_days: int) -> bool:
    """The day failed validation, or a stored raw day its features read did (so its features cannot exist)."""
    history = [d for d in day_range([shift(day, -history_days), day]) if d in raw]
    return any(not _passed(raw[d]) for d in history)


def _problem(
    day: str,
    raw: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, Any]],
    features: Mapping[str, Any] | None,
    *,
    history_days: int,
) -> str | None:
    own = raw.get(day)
    if own is None:
        return f"day {day}: raw_data not materialized (no landing file?)"
    if not _passed(own):
        failures = "; ".join((own.get(VERDICT_ATTR) or {}).get("failures") or ["no verdict"])
        return f"day {day} ({own.get('source_file', '?')}) is quarantined: {failures}"
    if day not in labels:
        return f"day {day}: labels not materialized (re-materialize raw_data for the day)"
    if features is None:
        return f"day {day}: features not materialized"
    inputs = features.get(INPUTS_ATTR) or {}
    read_now = [d for d in day_range([shift(day, -history_days), day]) if d in raw]
    failed = [d for d in read_now if not _passed(raw[d])]
    if failed:
        return f"day {day}: its features read {', '.join(failed)}, which failed validation"
    changed = [d for d in read_now if raw[d].get(DATA_VERSION_ATTR) != inputs.get(d)]
    label_inputs = features.get(LABEL_INPUTS_ATTR) or {}
    changed += [
        f"the labels of {d}"
        for d, version in label_inputs.items()
        if d not in labels or labels[d].get(DATA_VERSION_ATTR) != version
    ]
    if changed:
        return (
            f"day {day}: features were computed from another version of {', '.join(changed)} (changed or landed "
            f"since); re-materialize features for {day}"
        )
    return None
