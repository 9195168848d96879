"""The training window of days: used only when every day passed and was featurized from the data as it is now."""

import pytest

from ml_assets.config import TimeSplit
from ml_assets.data.days import VERDICT_ATTR, day_range, shift
from ml_assets.features.incremental import INPUTS_ATTR, LABEL_INPUTS_ATTR
from ml_assets.features.window import TrainingWindowError, training_window
from ml_assets.provenance import DATA_VERSION_ATTR

pytestmark = pytest.mark.unit
HISTORY = 3
DAYS = day_range(["2026-11-01", "2026-11-20"])


def stored(failed: tuple[str, ...] = (), changed: tuple[str, ...] = (), relabeled: tuple[str, ...] = ()):
    """(raw, labels, features): each day's stored attributes, as the tests change them."""
    raw = {d: {DATA_VERSION_ATTR: f"v-{d}", VERDICT_ATTR: {"passed": d not in failed}} for d in DAYS}
    labels = {d: {DATA_VERSION_ATTR: f"l-{d}", VERDICT_ATTR: {"passed": d not in failed}} for d in DAYS}
    features = {}
    for day in DAYS:
        reads = [d for d in day_range([shift(day, -HISTORY), day]) if d in raw]
        if any(d in failed for d in reads):
            continue  # features are never built from a failed day
        label_reads = [d for d in day_range([shift(day, -HISTORY), shift(day, -1)]) if d in labels]
        features[day] = {
            INPUTS_ATTR: {d: f"v-{d}" for d in reads},
            LABEL_INPUTS_ATTR: {d: f"l-{d}" for d in label_reads},
        }
    for day in changed:
        raw[day][DATA_VERSION_ATTR] = f"v2-{day}"
    for day in relabeled:
        labels[day][DATA_VERSION_ATTR] = f"l2-{day}"
    return raw, labels, features


def window(split: TimeSplit, raw, labels, features):
    return training_window(
        split, first_partition="2026-01-01", history_days=HISTORY, raw=raw, labels=labels, features=features
    )


def split(**changes) -> TimeSplit:
    return TimeSplit(method="time", train_days=5, gap_days=2, test_days=3, **changes)


def test_a_window_of_good_days_ends_on_the_newest_featurized_day() -> None:
    chosen = window(split(), *stored())
    assert chosen.days == day_range(["2026-11-11", "2026-11-20"]) and chosen.skipped == []


def test_a_failed_day_refuses_the_window_naming_it_or_is_skipped_with_the_days_that_read_it() -> None:
    raw, labels, features = stored(failed=("2026-11-14",))
    raw["2026-11-14"][VERDICT_ATTR]["failures"] = ["TX_AMOUNT: 3 rows below 0"]
    anchored = {"train_start": "2026-11-11"}
    with pytest.raises(TrainingWindowError, match=r"day 2026-11-14 \(\?\) is quarantined: TX_AMOUNT: 3 rows below 0"):
        window(split(**anchored), raw, labels, features)
    chosen = window(split(skip_failed_days=True, **anchored), raw, labels, features)
    assert chosen.skipped == day_range(["2026-11-14", "2026-11-17"])  # the day and the 3 whose windows read it
    assert "2026-11-14" not in chosen.days and chosen.days[0] == "2026-11-11"


def test_features_from_an_older_version_of_any_day_they_read_refuse_the_window() -> None:
    raw, labels, features = stored(changed=("2026-11-09",))  # a history day of the window's first day changed
    with pytest.raises(
        TrainingWindowError,
        match=r"day 2026-11-11: features were computed from another version of "
        r"2026-11-09",
    ):
        window(split(), raw, labels, features)


def test_a_history_day_landed_after_the_features_were_built_refuses_the_window() -> None:
    raw, labels, features = stored()
    for day in ("2026-11-01", "2026-11-02"):
        features.pop(day, None)
    features["2026-11-11"] = {INPUTS_ATTR: {d: f"v-{d}" for d in ("2026-11-10", "2026-11-11")}}  # built before
    with pytest.raises(TrainingWindowError, match="another version of 2026-11-08, 2026-11-09"):
        window(split(), raw, labels, features)


def test_a_history_day_that_failed_since_refuses_the_window() -> None:
    raw, labels, features = stored()
    raw["2026-11-09"][VERDICT_ATTR] = {"passed": False, "failures": ["stricter schema"]}
    with pytest.raises(TrainingWindowError, match="day 2026-11-11: its features read 2026-11-09, which failed"):
        window(split(), raw, labels, features)


def test_a_window_before_the_first_day_is_refused() -> None:
    raw, labels, features = stored()
    with pytest.raises(TrainingWindowError, match="reaches before the first day of data, 2026-11-01"):
        window(split(train_start="2026-10-30"), raw, labels, features)


def test_features_from_older_labels_refuse_the_window_and_a_day_without_labels_is_named() -> None:
    # late labels of a day the next days' label windows read
    with pytest.raises(
        TrainingWindowError,
        match=r"day 2026-11-13: features were computed from another version of the labels of 2026-11-12",
    ):
        window(split(), *stored(relabeled=("2026-11-12",)))
    raw, labels, features = stored()
    del labels["2026-11-15"]
    with pytest.raises(TrainingWindowError, match="day 2026-11-15: labels not materialized"):
        window(split(), raw, labels, features)
