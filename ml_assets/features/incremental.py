"""Features of some days from those days plus the history their windows read, not from the whole history.

A record's features look back at most ``features.history_days`` (the longest window behind the label delay), so
the features of days D1..D2 computed from the raw days D1 - history .. D2 equal the full recomputation (tested
feature by feature: counts and label rates bit for bit; amount means and z-scores to float64 rounding, since their
prefix sums start from another row). Memory is bounded by the window, not by the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pandas as pd

from ml_assets.config import PipelineConfig
from ml_assets.data.days import (
    QuarantinedDayError,
    StoredDays,
    day_bounds,
    day_range,
    quarantine_reason,
    shift,
)
from ml_assets.data.labels import join_labels
from ml_assets.features.build import FEATURE_COLUMNS_ATTR, build_features, window_columns
from ml_assets.provenance import DATA_VERSION_ATTR

# A day's features remember the raw versions of every day they were computed from: {day: raw data version}.
INPUTS_ATTR = "inputs"
# ... and the versions of the labels their windows read: {day: labels version}.
LABEL_INPUTS_ATTR = "label_inputs"


def lookback_days(config: PipelineConfig) -> int:
    """Days before a day that its features read. Windows are exact durations (days of 86,400 s); a local day can be
    23 or 25 hours long, so outside UTC one more day is read."""
    partitions = config.dataset.partitions
    extra = 0 if partitions is None or partitions.timezone == "UTC" else 1
    return config.features.history_days + extra


def history_of(days: list[str], config: PipelineConfig) -> list[str]:
    """Every raw day the features of ``days`` read: the history before the first, then the days themselves."""
    return day_range([shift(days[0], -lookback_days(config)), days[-1]])


def label_window(config: PipelineConfig) -> tuple[int, int] | None:
    """(first, last) offsets from a day of the days whose labels its features read, or None when the feature set
    reads no labels. The windows look at labels older than the delay only; outside UTC a local day can be 23 or 25
    hours long, so the window reaches one more day on each side (never past the day itself)."""
    if config.features.set != "fraud_handbook":
        return None
    extra = lookback_days(config) - config.features.history_days
    return -lookback_days(config), min(0, extra - config.features.delay_days)


def label_days_of(days: list[str], config: PipelineConfig) -> list[str]:
    """Every day whose labels the features of ``days`` read."""
    window = label_window(config)
    return [] if window is None else day_range([shift(days[0], window[0]), shift(days[-1], window[1])])


def days_reading(day: str, config: PipelineConfig, *, labels_only: bool) -> list[str]:
    """The days whose features change when ``day``'s raw data changes: every day whose windows reach back to it
    or, when only its labels changed (they arrive late), the days whose label windows, behind the delay, cover it."""
    if not labels_only:
        return day_range([day, shift(day, lookback_days(config))])
    window = label_window(config)
    return [] if window is None else day_range([shift(day, -window[1]), shift(day, -window[0])])


def buildable(days: list[str], passed: Mapping[str, bool], config: PipelineConfig) -> list[str]:
    """The days among ``days`` whose features can be built: the day passed validation, and so did every stored raw
    day its windows read, with no day missing since the first stored one (``passed``: each stored day's verdict)."""
    if not passed:
        return []
    first = min(passed)
    out = []
    for day in days:
        history = [d for d in history_of([day], config) if d >= first]
        if all(passed.get(d, False) for d in history):
            out.append(day)
    return out


def usable_inputs(raw: StoredDays, days: list[str], config: PipelineConfig) -> list[str]:
    """The raw days to compute ``days`` from: those present, with a clear error for a day that is missing or
    quarantined. Days before the first stored day are before the history began (the data starts there)."""
    wanted = history_of(days, config)
    present = [day for day in wanted if day in raw]
    missing_own = [day for day in days if day not in raw]
    if missing_own:
        raise QuarantinedDayError(
            f"raw_data has no stored day {', '.join(missing_own)}: materialize raw_data for it first (does the "
            "landing folder have its file?)"
        )
    gaps = [day for day in day_range([present[0], days[-1]]) if day not in raw]
    if gaps:
        raise QuarantinedDayError(
            f"the features of {days[0]}..{days[-1]} read the history back to {wanted[0]}, but raw_data has no day "
            f"{', '.join(gaps)} inside it: materialize raw_data for those days"
        )
    _refuse_quarantined(raw, present, "quarantined input, no features built from it")
    return present


def usable_labels(labels: StoredDays, days: list[str], config: PipelineConfig, *, first: str) -> list[str]:
    """The days whose labels the features of ``days`` read, from ``first`` (the first raw day read): a clear error
    for a day whose labels are missing or quarantined."""
    wanted = [day for day in label_days_of(days, config) if day >= first]
    missing = [day for day in wanted if day not in labels]
    if missing:
        raise QuarantinedDayError(
            f"the features of {days[0]}..{days[-1]} read the labels of {wanted[0]}..{wanted[-1]}, but labels has no "
            f"day {', '.join(missing)}: materialize raw_data (with its labels) for those days"
        )
    _refuse_quarantined(labels, wanted, "quarantined labels, no features built from them")
    return wanted


def _refuse_quarantined(stored: StoredDays, days: list[str], what: str) -> None:
    """A clear error naming every quarantined day among ``days`` and why (by their stored verdicts)."""
    reasons = [reason for day in days if (reason := quarantine_reason(day, stored.attrs(day)))]
    if reasons:
        raise QuarantinedDayError(
            f"{what} (fix the landing file and re-materialize raw_data for the day):\n"
            + "\n".join(f"- {reason}" for reason in reasons)
        )


def features_by_day(raw: StoredDays, labels: StoredDays, days: list[str], config: PipelineConfig) -> dict:
    """{day: its feature frame} for ``days`` (model inputs with id, time and entity; no target: the labels are
    joined where they are used), each remembering its feature columns and the versions of the records and labels
    it read. Of the history days before them only the columns their windows read are decoded."""
    schema = config.data_schema
    inputs = usable_inputs(raw, days, config)
    labelled = set(usable_labels(labels, days, config, first=inputs[0]))
    versions = {day: str(raw.attrs(day).get(DATA_VERSION_ATTR)) for day in inputs}
    label_versions = {day: str(labels.attrs(day).get(DATA_VERSION_ATTR)) for day in sorted(labelled)}

    def read(day: str, columns: list[str] | None) -> pd.DataFrame:
        records = raw.read(day, columns)
        if day in labelled:
            return join_labels(records, labels.read(day), schema, day=day)
        return records.assign(**{schema.target: 0})  # never inside a label window of the days featurized

    columns = [c for c in window_columns(config) if c != schema.target]
    before = [day for day in inputs if day < days[0]]
    history = (
        pd.concat([read(day, [schema.id_column, *columns]) for day in before], ignore_index=True)
        if before and columns
        else None
    )
    own = pd.concat([read(day, None) for day in days], ignore_index=True)
    built = build_features(own, config, history=history)
    del own, history
    timezone = config.dataset.partitions.timezone
    frame = built.frame.drop(columns=[schema.target])
    stamps = frame[schema.timestamp_column]
    out = {}
    for day in days:
        start, end = day_bounds(day, timezone)
        part = frame.loc[(stamps >= start) & (stamps < end)].reset_index(drop=True)
        own_versions = {d: versions[d] for d in history_of([day], config) if d in versions}
        own_labels = {d: label_versions[d] for d in label_days_of([day], config) if d in label_versions}
        part.attrs[FEATURE_COLUMNS_ATTR] = built.feature_columns
        part.attrs[INPUTS_ATTR] = own_versions
        part.attrs[LABEL_INPUTS_ATTR] = own_labels
        part.attrs[DATA_VERSION_ATTR] = inputs_version(
            {**own_versions, **{f"{d}/labels": v for d, v in own_labels.items()}}
        )
        out[day] = part
    return out


def inputs_version(versions: Mapping[str, str]) -> str:
    """One version for a set of {day: version}: changes when any day is added, removed or changed."""
    return hashlib.sha256(json.dumps(dict(sorted(versions.items()))).encode()).hexdigest()[:16]
