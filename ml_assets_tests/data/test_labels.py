"""A day's labels apart from its records: versions of their own content, joined back by id."""

import datetime as dt

import pandas as pd
import pytest

from ml_assets.config import parse_config
from ml_assets.data.days import VERDICT_ATTR
from ml_assets.data.labels import MissingLabelsError, join_labels, only_labels_changed, split_labels
from ml_assets.provenance import DATA_VERSION_ATTR
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets_tests.conftest import small_fraud_raw

pytestmark = pytest.mark.unit


def small_frame(rows: int) -> pd.DataFrame:
    """The first ``rows`` transactions of a simulated day, with frauds among them."""
    spec = SimulationSpec(customers=100, terminals=200, start=dt.date(2026, 11, 2), days=1, seed=7)
    ((_, day),) = simulate_days(spec)
    frame = day.head(rows).reset_index(drop=True)
    frame.loc[:4, "TX_FRAUD"] = 1
    return frame


def test_a_labels_change_leaves_the_records_version_and_a_records_change_the_labels_version() -> None:
    schema = parse_config(small_fraud_raw()).data_schema
    day = small_frame(50)
    day.attrs = {VERDICT_ATTR: {"passed": True}, DATA_VERSION_ATTR: "file digest"}
    records, labels = split_labels(day, schema)
    assert schema.target not in records and list(labels.columns) == [schema.id_column, schema.target]
    assert records.attrs[VERDICT_ATTR] == labels.attrs[VERDICT_ATTR] == {"passed": True}  # the day's verdict on both

    relabeled = day.assign(**{schema.target: 1 - day[schema.target]})
    records2, labels2 = split_labels(relabeled, schema)
    assert records2.attrs[DATA_VERSION_ATTR] == records.attrs[DATA_VERSION_ATTR]
    assert labels2.attrs[DATA_VERSION_ATTR] != labels.attrs[DATA_VERSION_ATTR]

    amended = day.copy()
    amended.loc[0, "TX_AMOUNT"] += 1.0
    records3, labels3 = split_labels(amended, schema)
    assert records3.attrs[DATA_VERSION_ATTR] != records.attrs[DATA_VERSION_ATTR]
    assert labels3.attrs[DATA_VERSION_ATTR] == labels.attrs[DATA_VERSION_ATTR]


def test_labels_join_back_by_id_whatever_the_order_and_missing_ones_are_named() -> None:
    schema = parse_config(small_fraud_raw()).data_schema
    records, labels = split_labels(small_frame(50), schema)
    shuffled = labels.sample(frac=1.0, random_state=0)
    joined = join_labels(records, shuffled, schema, day="2026-11-02")
    pd.testing.assert_series_equal(
        joined[schema.target], small_frame(50)[schema.target].astype("int64"), check_names=False
    )
    with pytest.raises(MissingLabelsError, match=r"day 2026-11-02: 3 of 50 records have no stored label"):
        join_labels(records, labels.iloc[3:], schema, day="2026-11-02")
    with pytest.raises(MissingLabelsError, match=r"day 2026-11-02: the labels repeat TRANSACTION_ID values"):
        join_labels(records, pd.concat([labels, labels.iloc[:1]]), schema, day="2026-11-02")


@pytest.mark.parametrize(
    ("stored_records", "stored_labels", "records", "labels", "only_labels"),
    [
        ({"version": "r1", "passed": True}, {"version": "l1"}, {"version": "r1", "passed": True}, "l2", True),
        (
            {"version": "r1", "passed": True},
            {"version": "l1"},
            {"version": "r1", "passed": True},
            "l1",
            False,
        ),  # re-run
        ({"version": "r1", "passed": True}, {"version": "l1"}, {"version": "r2", "passed": True}, "l2", False),
        ({"version": "r1", "passed": True}, {"version": "l1"}, {"version": "r1", "passed": False}, "l2", False),
        ({"version": "r1", "passed": False}, {"version": "l1"}, {"version": "r1", "passed": True}, "l2", False),
        ({}, {}, {"version": "r1", "passed": True}, "l1", False),  # never stored
    ],
    ids=["labels-only", "plain-re-run", "records-changed", "fails-now", "failed-before", "first-load"],
)
def test_only_a_labels_change_that_passes_over_passed_records_stores_labels_alone(
    stored_records, stored_labels, records, labels, only_labels
) -> None:
    decided = only_labels_changed(
        records=records, labels={"version": labels}, stored_records=stored_records, stored_labels=stored_labels
    )
    assert decided is only_labels


def test_a_version_ignores_row_order() -> None:
    schema = parse_config(small_fraud_raw()).data_schema
    frame = small_frame(50)
    records, labels = split_labels(frame, schema)
    shuffled_records, shuffled_labels = split_labels(frame.sample(frac=1.0, random_state=1), schema)
    assert shuffled_records.attrs[DATA_VERSION_ATTR] == records.attrs[DATA_VERSION_ATTR]
    assert shuffled_labels.attrs[DATA_VERSION_ATTR] == labels.attrs[DATA_VERSION_ATTR]
