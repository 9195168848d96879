import datetime as dt

import pandas as pd
import pytest

from ml_assets.config import PipelineConfig, RandomSplit, TimeSplit
from ml_assets.features import build_features
from ml_assets.features.split import SPLIT_COLUMN, SplitError, split_dataset
from ml_assets.simulate import SimulationSpec, simulate_days

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    spec = SimulationSpec(customers=300, terminals=600, start=dt.date(2018, 4, 1), days=40, seed=11)
    return pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)


def test_time_split_has_train_gap_test_and_natural_prevalence(
    transactions: pd.DataFrame, fraud_config: PipelineConfig
) -> None:
    features = build_features(transactions, fraud_config)
    split = TimeSplit(method="time", train_days=14, gap_days=7, test_days=7, exclude_known_entities=False)
    out = split_dataset(features, split)
    day = out["TX_DATETIME"].dt.normalize()
    train, test = day[out[SPLIT_COLUMN] == "train"], day[out[SPLIT_COLUMN] == "test"]
    last = transactions["TX_DATETIME"].max().normalize()
    assert test.max() == last and test.min() == last - pd.Timedelta(days=6)
    assert (test.min() - train.max()).days == 8  # 7 gap days between them
    assert train.nunique() == 14 and test.nunique() == 7
    everything_in_test_week = transactions[transactions["TX_DATETIME"].dt.normalize() >= test.min()]
    assert (out[SPLIT_COLUMN] == "test").sum() == len(everything_in_test_week)


def test_known_compromised_cards_leave_the_test_set(transactions: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    features = build_features(transactions, fraud_config)
    split = TimeSplit(method="time", train_days=14, gap_days=7, test_days=7)
    out = split_dataset(features, split)
    train = out[out[SPLIT_COLUMN] == "train"]
    test = out[out[SPLIT_COLUMN] == "test"]
    known = set(train.loc[train["TX_FRAUD"] == 1, "CUSTOMER_ID"])
    assert known and not known & set(test["CUSTOMER_ID"])


def test_anchored_split_and_too_little_data(transactions: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    features = build_features(transactions, fraud_config)
    anchored = TimeSplit(method="time", train_days=7, gap_days=7, test_days=7, train_start=dt.date(2018, 4, 10))
    out = split_dataset(features, anchored)
    assert out.loc[out[SPLIT_COLUMN] == "train", "TX_DATETIME"].min().date() == dt.date(2018, 4, 10)
    with pytest.raises(SplitError, match=r"covers 2018-04-01\.\.2018-05-10 \(40 days\).*needs 63 days"):
        split_dataset(features, TimeSplit(method="time", train_days=49, gap_days=7, test_days=7))


def test_random_split_is_stratified(breast_cancer_config: PipelineConfig) -> None:
    from ml_assets.simulate.sklearn_datasets import load_dataset

    features = build_features(load_dataset("breast_cancer", "malignant", 0), breast_cancer_config)
    out = split_dataset(features, RandomSplit(method="random", test_size=0.3, seed=1))
    rates = out.groupby(SPLIT_COLUMN)["malignant"].mean()
    assert abs(rates["train"] - rates["test"]) < 0.01
    assert (out[SPLIT_COLUMN] == "test").sum() == 171
