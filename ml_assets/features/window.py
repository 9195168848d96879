"""Which days a model trains and tests on, when the features are daily partitions (pure).

The window is the split's train + gap + test days, ending on the newest featurized day (or starting on
``split.train_start``). It is used only when every day in it passed validation and its features were computed
from the raw days as they are now; with ``split.skip_failed_days`` a failed day is left out and named instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_assets.config import TimeSplit
from ml_assets.data.days import VERDICT_ATTR, day_range, shift
from ml_assets.features.incremental import INPUTS_ATTR
from ml_assets.provenance import DATA_VERSION_ATTR


class TrainingWindowError(ValueError):
    """The training window cannot be used as it is (a day missing, failed or featurized from older data)."""


@dataclass(frozen=True)
class TrainingWindow:
    days: list[str]  # the days read, in order
    skipped: list[str]  # failed days left out (split.skip_failed_days)
    train_start: str


def training_window(
    split: TimeSplit,
    *,
    first_partition: str,
    raw: Mapping[str, Mapping[str, Any]],
    features: Mapping[str, Mapping[str, Any]],
) -> TrainingWindow:
    """The window to train on; ``raw`` and ``features`` map each stored day to its frame attributes."""
    needed = split.train_days + split.gap_days + split.test_days
    if split.train_start is not None:
        start = split.train_start.isoformat()
    elif features:
        start = shift(max(features), -(needed - 1))
    else:
        raise TrainingWindowError("no featurized day yet: materialize raw_data and features for the days first")
    days = day_range([start, shift(start, needed - 1)])
    first_stored = min(raw) if raw else None
    if start < first_partition or (first_stored is not None and start < first_stored):
        first = max(first_partition, first_stored or first_partition)
        raise TrainingWindowError(
            f"the training window {days[0]}..{days[-1]} ({needed} days: train {split.train_days} + gap "
            f"{split.gap_days} + test {split.test_days}) reaches before the first day "
            f"{'of the partitions' if first == first_partition else 'of data'}, {first}; land earlier days or "
            "shorten the split"
        )
    problems, skipped = [], []
    for day in days:
        problem = _problem(day, raw.get(day), features.get(day), raw)
        if problem is None:
            continue
        failed = raw.get(day) is not None and not (raw[day].get(VERDICT_ATTR) or {}).get("passed")
        if failed and split.skip_failed_days:
            skipped.append(day)
        else:
            problems.append(problem)
    if problems:
        raise TrainingWindowError(
            f"the training window {days[0]}..{days[-1]} cannot be used; nothing is trained on it:\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    return TrainingWindow([d for d in days if d not in skipped], skipped, start)


def _problem(
    day: str,
    raw: Mapping[str, Any] | None,
    features: Mapping[str, Any] | None,
    all_raw: Mapping[str, Mapping[str, Any]],
) -> str | None:
    if raw is None:
        return f"day {day}: raw_data not materialized (no landing file?)"
    verdict = raw.get(VERDICT_ATTR) or {}
    if not verdict.get("passed"):
        failures = "; ".join(verdict.get("failures") or ["no verdict"])
        return f"day {day} ({raw.get('source_file', '?')}) is quarantined: {failures}"
    if features is None:
        return f"day {day}: features not materialized"
    changed = [
        d
        for d, version in (features.get(INPUTS_ATTR) or {}).items()
        if (all_raw.get(d) or {}).get(DATA_VERSION_ATTR) != version
    ]
    if changed:
        return (
            f"day {day}: features were computed from an older version of {', '.join(changed)}; re-materialize "
            f"features for {day}"
        )
    return None
