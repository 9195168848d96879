"""Late labels on a real Dagster instance: a corrected day's file whose records are unchanged stores only its
labels, and the declared conditions re-run only the features whose label windows read them (31 days with the
shipped 7-day delay and 30-day windows, in UTC; not the 38 whose windows read the day's records), then the day's
profile; a records correction re-runs all 38; a correction that fails validation re-runs nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import AssetKey, DagsterInstance, evaluate_automation_conditions
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ml_assets.config import parse_config
from ml_assets.data.days import shift
from ml_assets.definitions import build_definitions
from ml_assets.features.incremental import days_reading
from ml_assets.resources.landing import LandingFolder
from ml_assets.settings import Settings
from ml_assets.simulate.transactions import SimulationSpec, simulate_days
from ml_assets_tests.bad_data import corrupt
from ml_assets_tests.conftest import small_fraud_raw

DAYS = 80


def requested(automation, defs) -> dict[str, set[str]]:
    """{asset: the partitions (or "-" when unpartitioned) the evaluation asked for}."""
    out: dict[str, set[str]] = {}
    for key in defs.resolve_asset_graph().get_all_asset_keys():
        if automation.get_num_requested(key):
            out[key.to_user_string()] = {p or "-" for p in automation.get_requested_partitions(key)}
    return out


@pytest.mark.pipeline
def test_late_labels_re_run_only_the_days_whose_label_windows_read_them(settings: Settings) -> None:
    config = parse_config(small_fraud_raw(monitoring={"retraining": {"debounce_seconds": 0}}))
    defs = build_definitions(config, settings)
    instance = DagsterInstance.from_config(str(settings.home / "dagster"))
    daily = defs.resolve_job_def("daily_data")
    landing = LandingFolder(path=settings.resolve_location(config.dataset.landing_dir))
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DAYS)  # the partitions' days are UTC days
    spec = SimulationSpec(customers=100, terminals=200, start=start, days=DAYS, seed=5)
    frames = {f"{date:%Y-%m-%d}": frame for date, frame in simulate_days(spec)}
    for day, frame in frames.items():
        landing.write(frame, f"transactions_{day}.parquet")
    days = list(frames)
    tags = {ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]}
    assert daily.execute_in_process(instance=instance, tags=tags, raise_on_error=False).success
    automation = evaluate_automation_conditions(defs=defs, instance=instance)
    assert automation.total_requested == 0  # the days as they are: nothing to do

    def run_day(day: str, *, passes: bool = True) -> set[str]:
        """The day's daily_data run (the landing sensor's request for a changed file): the assets it stored."""
        result = daily.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
        assert result.success == passes
        return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}

    def run_requested(asset: str, first: str, last: str) -> None:
        """What the automation sensor would launch: ``asset`` for the days first..last."""
        subset = daily.get_subset(asset_selection={AssetKey(asset)})
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
        assert subset.execute_in_process(instance=instance, tags=tags, raise_on_error=False).success

    # Labels arrive late for one day: the file is rewritten with its frauds known, the records as they were.
    late = days[30]
    relabeled = frames[late].copy()
    relabeled["TX_FRAUD"] = 1 - relabeled["TX_FRAUD"]
    landing.write(relabeled, f"transactions_{late}.parquet")
    assert run_day(late) == {"labels"}  # records unchanged: raw_data keeps its version, nothing reads it again
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    asked = requested(automation, defs)
    expected = [d for d in days_reading(late, config, labels_only=True) if d <= days[-1]]
    assert expected == [shift(late, offset) for offset in range(7, 38)]  # 31 days: behind the 7-day delay
    assert asked["features"] == set(expected)
    assert asked["data_profile"] == {late}  # its target rate
    run_requested("features", expected[0], expected[-1])  # the 31 days' features from the new labels
    run_requested("data_profile", late, late)
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    assert "features" not in requested(automation, defs)  # done: nothing asked twice

    # A records correction (an amount fixed) re-runs every day whose windows read the day's records.
    fixed = frames[days[40]].copy()
    fixed.loc[0, "TX_AMOUNT"] = fixed.loc[0, "TX_AMOUNT"] + 1.0
    landing.write(fixed, f"transactions_{days[40]}.parquet")
    assert run_day(days[40]) >= {"raw_data", "labels", "data_profile", "features"}
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    asked = requested(automation, defs)
    reading = [d for d in days_reading(days[40], config, labels_only=False) if d <= days[-1]]
    assert len(reading) == 38
    assert asked["features"] == set(reading) - {days[40]}  # the day itself was featurized in its own run
    assert "data_profile" not in asked
    run_requested("features", shift(days[40], 1), reading[-1])

    # A correction that fails validation (a label outside {0, 1}) quarantines the day: both stored with the
    # failed verdict, and nothing that reads the day is asked for (it could only fail, naming the day).
    bad = days[50]
    landing.write(corrupt(frames[bad], "label_outside_set"), f"transactions_{bad}.parquet")
    assert run_day(bad, passes=False) == {"raw_data", "labels"}
    automation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
    assert requested(automation, defs) == {}
