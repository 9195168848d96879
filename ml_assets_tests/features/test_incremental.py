"""A day's features from that day plus its windows' history equal the full recomputation, feature by feature."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml_assets.config import PipelineConfig, parse_config
from ml_assets.data.days import SOURCE_ATTR, VERDICT_ATTR, DaysInMemory, QuarantinedDayError
from ml_assets.data.labels import split_labels
from ml_assets.features import build_features
from ml_assets.features.incremental import (
    INPUTS_ATTR,
    LABEL_INPUTS_ATTR,
    days_reading,
    features_by_day,
    history_of,
    label_days_of,
)
from ml_assets.provenance import DATA_VERSION_ATTR
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets_tests.conftest import small_fraud_raw

pytestmark = pytest.mark.unit
DAYS = 60


@pytest.fixture(scope="module")
def raw_days() -> dict[str, pd.DataFrame]:
    spec = SimulationSpec(customers=200, terminals=400, start=dt.date(2026, 3, 1), days=DAYS, seed=3)
    days = {}
    for date, frame in simulate_days(spec):
        frame.attrs.update(
            {
                DATA_VERSION_ATTR: f"v-{date}",
                SOURCE_ATTR: f"transactions_{date}.parquet",
                VERDICT_ATTR: {"passed": True},
            }
        )
        days[f"{date:%Y-%m-%d}"] = frame
    return days


@pytest.fixture(scope="module")
def config() -> PipelineConfig:
    return parse_config(small_fraud_raw())  # windows 1/7/30 days behind a 7-day label delay, amount profile on


def stored(frames: dict[str, pd.DataFrame], config: PipelineConfig) -> tuple[DaysInMemory, DaysInMemory]:
    """The days as the pipeline stores them: records (raw_data) and labels, each with its own version."""
    records, labels = DaysInMemory(), DaysInMemory()
    for day, frame in frames.items():
        records[day], labels[day] = split_labels(frame, config.data_schema)
    return records, labels


def featurize(frames: dict[str, pd.DataFrame], days: list[str], config: PipelineConfig) -> dict:
    return features_by_day(*stored(frames, config), days, config)


def assert_same_features(incremental: pd.DataFrame, full: pd.DataFrame, columns: list[str]) -> None:
    left = incremental.set_index("TRANSACTION_ID").sort_index()
    right = full.set_index("TRANSACTION_ID").loc[left.index]
    for column in columns:
        if "NB_TX" in column or "RISK" in column or column.startswith("TX_DURING") or column == "TX_AMOUNT":
            # counts and label rates are sums of integers: bit for bit
            np.testing.assert_array_equal(left[column].to_numpy(), right[column].to_numpy(), err_msg=column)
        else:
            # Amount means and the z-score come from float64 prefix sums, which start from another row when the
            # history is shorter: equal to float rounding (the z-score's variance, E[x^2] - E[x]^2, loses the most:
            # up to ~3e-9 relative here, and the longer history is the less precise side).
            np.testing.assert_allclose(left[column], right[column], rtol=1e-8, atol=1e-8, err_msg=column)
    assert "TX_FRAUD" not in left  # the labels are joined where they are used, not stored with the features


def test_every_day_equals_the_full_recomputation(raw_days, config) -> None:
    full = build_features(pd.concat(raw_days.values(), ignore_index=True), config)
    for day in [*list(raw_days)[::7], list(raw_days)[-1]]:  # the first days (short history) to the last
        needed = {d: raw_days[d] for d in history_of([day], config) if d in raw_days}
        records, labels = stored(needed, config)
        built = features_by_day(records, labels, [day], config)[day]
        assert len(built) == len(raw_days[day])
        assert_same_features(built, full.frame, full.feature_columns)
        assert built.attrs[INPUTS_ATTR] == {d: records.attrs(d)[DATA_VERSION_ATTR] for d in needed}
        label_days = [d for d in label_days_of([day], config) if d in needed]
        assert built.attrs[LABEL_INPUTS_ATTR] == {d: labels.attrs(d)[DATA_VERSION_ATTR] for d in label_days}


def test_a_range_of_days_reads_only_its_window_and_equals_the_full_recomputation(raw_days, config) -> None:
    full = build_features(pd.concat(raw_days.values(), ignore_index=True), config)
    days = list(raw_days)[45:52]
    needed = {d: raw_days[d] for d in history_of(days, config)}
    assert len(needed) == config.features.history_days + len(days)  # 37 + 7: bounded by the window
    built = featurize(needed, days, config)
    for day in days:
        assert_same_features(built[day], full.frame, full.feature_columns)


def test_late_labels_change_exactly_the_days_whose_label_windows_read_them(raw_days, config) -> None:
    day = list(raw_days)[20]
    late = raw_days[day].copy()
    late["TX_FRAUD"] = 1 - late["TX_FRAUD"]  # labels arrive (or are corrected) after the day was featurized
    late.attrs = dict(raw_days[day].attrs)
    relabeled = {**raw_days, day: late}
    before_records, before_labels = stored(raw_days, config)
    after_records, after_labels = stored(relabeled, config)
    # the records are as they were: raw_data keeps its version, only the day's labels have a new one
    assert after_records.attrs(day)[DATA_VERSION_ATTR] == before_records.attrs(day)[DATA_VERSION_ATTR]
    assert after_labels.attrs(day)[DATA_VERSION_ATTR] != before_labels.attrs(day)[DATA_VERSION_ATTR]
    changed = []
    for other in list(raw_days)[20:]:
        before = features_by_day(before_records, before_labels, [other], config)[other]
        after = features_by_day(after_records, after_labels, [other], config)[other]
        if not before.equals(after):
            changed.append(other)
    index = list(raw_days).index(day)
    delay, longest = config.features.delay_days, max(config.features.windows_days)
    # the days whose terminal windows, behind the delay, reach into it: 31, not the 38 whose windows read the day
    expected = list(raw_days)[index + delay : index + delay + longest + 1]
    assert changed == expected == days_reading(day, config, labels_only=True)
    assert len(days_reading(day, config, labels_only=False)) == config.features.history_days + 1
    assert set(days_reading(day, config, labels_only=False)) >= set(expected)


def test_a_quarantined_day_in_the_window_builds_nothing_and_says_which(raw_days, config) -> None:
    days = list(raw_days)
    needed = {d: raw_days[d] for d in history_of([days[50]], config)}
    bad = needed[days[40]].copy()
    bad.attrs = {**bad.attrs, VERDICT_ATTR: {"passed": False, "failures": ["TX_AMOUNT: values outside [0, 1e5]"]}}
    needed[days[40]] = bad
    with pytest.raises(QuarantinedDayError, match=f"day {days[40]} \\(transactions_{days[40]}.parquet\\) failed"):
        featurize(needed, [days[50]], config)


def test_a_gap_in_the_history_or_a_missing_day_is_named(raw_days, config) -> None:
    days = list(raw_days)
    needed = {d: raw_days[d] for d in history_of([days[50]], config) if d != days[45]}
    with pytest.raises(QuarantinedDayError, match=f"raw_data has no day {days[45]} inside it"):
        featurize(needed, [days[50]], config)
    with pytest.raises(QuarantinedDayError, match=f"raw_data has no stored day {days[50]}"):
        featurize({d: raw_days[d] for d in days[40:50]}, [days[50]], config)


@pytest.mark.parametrize(
    ("start", "checked"),
    [
        (dt.date(2026, 2, 10), ("2026-03-28", "2026-03-29", "2026-03-30", "2026-04-05")),  # spring: a 23-hour day
        (dt.date(2026, 9, 20), ("2026-10-24", "2026-10-25", "2026-10-26", "2026-11-01")),  # autumn: a 25-hour day
    ],
    ids=["spring", "autumn"],
)
def test_days_in_another_timezone_across_a_clock_change_equal_the_full_recomputation(start, checked) -> None:
    """Paris days across a clock change: a day's features from its local days, its label windows reaching one more
    day on each side (a week behind a 25-hour day ends within 6 local days)."""
    from ml_assets.features.split import local_day

    config = parse_config(small_fraud_raw(dataset={"partitions": {"start": "2026-01-01", "timezone": "Europe/Paris"}}))
    spec = SimulationSpec(customers=200, terminals=400, start=start, days=60, seed=4)
    everything = pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)
    local = local_day(everything["TX_DATETIME"], "Europe/Paris").dt.strftime("%Y-%m-%d")
    days = {}
    for day, frame in everything.groupby(local):
        frame = frame.reset_index(drop=True)
        frame.attrs.update(
            {DATA_VERSION_ATTR: f"v-{day}", SOURCE_ATTR: f"{day}.parquet", VERDICT_ATTR: {"passed": True}}
        )
        days[day] = frame
    full = build_features(everything, config)
    for day in checked:
        needed = {d: days[d] for d in history_of([day], config) if d in days}
        assert_same_features(featurize(needed, [day], config)[day], full.frame, full.feature_columns)


def test_without_a_label_delay_a_day_reads_its_own_labels_and_equals_the_full_recomputation(raw_days) -> None:
    config = parse_config(small_fraud_raw(features={"delay_days": 0}))
    full = build_features(pd.concat(raw_days.values(), ignore_index=True), config)
    day = list(raw_days)[45]
    assert label_days_of([day], config)[-1] == day  # the windows read labels up to the row itself
    needed = {d: raw_days[d] for d in history_of([day], config)}
    assert_same_features(featurize(needed, [day], config)[day], full.frame, full.feature_columns)
