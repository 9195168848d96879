"""Which landing file holds which day, and that a day's records stay in it."""

import pandas as pd
import pytest

from ml_assets.data.days import check_within_day, day_bounds, day_of, file_of_day, files_by_day, runs_of
from ml_assets.data.schema import DataLoadError

pytestmark = pytest.mark.unit


def test_a_files_day_is_the_date_in_its_name() -> None:
    assert day_of("transactions_2026-11-26.parquet") == "2026-11-26"
    assert day_of("prefix/2026-11-26.csv") == "2026-11-26"
    assert day_of("transactions_2026-13-40.parquet") is None  # not a date
    assert day_of("notes.csv") is None and day_of("x_20261126.parquet") is None
    assert files_by_day(["b_2026-11-02.csv", "a_2026-11-01.csv", "readme.csv"]) == {
        "2026-11-01": ["a_2026-11-01.csv"],
        "2026-11-02": ["b_2026-11-02.csv"],
    }


def test_a_day_has_exactly_one_file_or_a_clear_error() -> None:
    names = ["transactions_2026-11-01.parquet", "transactions_2026-11-02.parquet", "late_2026-11-02.csv"]
    assert file_of_day("2026-11-01", names, where="landing/fraud") == "transactions_2026-11-01.parquet"
    with pytest.raises(DataLoadError, match=r"day 2026-11-03: no landing file in landing/fraud"):
        file_of_day("2026-11-03", names, where="landing/fraud")
    with pytest.raises(
        DataLoadError, match=r"day 2026-11-02: 2 landing files in landing/fraud \(late_2026-11-02.csv, "
    ):
        file_of_day("2026-11-02", names, where="landing/fraud")


def test_records_outside_their_day_are_counted_and_named() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-11-01 00:00:00", "2026-11-01 23:59:59", "2026-11-02 00:00:00"]))
    with pytest.raises(DataLoadError, match=r"day 2026-11-01: f.parquet: 1 of 3 records fall outside the day"):
        check_within_day(stamps, "2026-11-01", timezone="UTC", source="f.parquet")
    check_within_day(stamps[:2], "2026-11-01", timezone="UTC", source="f.parquet")


def test_days_run_midnight_to_midnight_in_the_partitions_timezone() -> None:
    start, end = day_bounds("2026-07-01", "Europe/Paris")  # UTC+2 in summer
    assert (start, end) == (pd.Timestamp("2026-06-30 22:00"), pd.Timestamp("2026-07-01 22:00"))
    start, end = day_bounds("2026-03-29", "Europe/Paris")  # the spring change: a 23-hour day
    assert end - start == pd.Timedelta(hours=23)


def test_a_range_splits_into_runs_of_at_most_n_days() -> None:
    assert runs_of("2026-11-01", "2026-11-07", 3) == [
        ("2026-11-01", "2026-11-03"),
        ("2026-11-04", "2026-11-06"),
        ("2026-11-07", "2026-11-07"),
    ]
    assert runs_of("2026-11-01", "2026-11-07", None) == [("2026-11-01", "2026-11-07")]
    assert runs_of("2026-11-01", "2026-11-01", 30) == [("2026-11-01", "2026-11-01")]
