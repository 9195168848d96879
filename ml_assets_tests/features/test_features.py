import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml_assets.config import PipelineConfig
from ml_assets.features import build_features
from ml_assets.simulate import SimulationSpec, simulate_days

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    spec = SimulationSpec(customers=150, terminals=300, start=dt.date(2018, 4, 1), days=45, seed=5)
    return pd.concat([f for _, f in simulate_days(spec)], ignore_index=True)


def _reference_customer(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """The handbook's pandas implementation (rolling time windows per customer)."""
    out = []
    for _, group in frame.sort_values("TX_DATETIME").groupby("CUSTOMER_ID"):
        rolled = group.set_index("TX_DATETIME")["TX_AMOUNT"].rolling(f"{days}d")
        out.append(
            pd.DataFrame(
                {
                    "id": group["TRANSACTION_ID"].to_numpy(),
                    "count": rolled.count().to_numpy(),
                    "mean": rolled.mean().to_numpy(),
                    "std": rolled.std(ddof=0).to_numpy(),
                }
            )
        )
    return pd.concat(out).set_index("id")


def _reference_terminal(frame: pd.DataFrame, days: int, delay: int) -> pd.DataFrame:
    out = []
    for _, group in frame.sort_values("TX_DATETIME").groupby("TERMINAL_ID"):
        fraud = group.set_index("TX_DATETIME")["TX_FRAUD"]
        nb_delay, fr_delay = fraud.rolling(f"{delay}d").count(), fraud.rolling(f"{delay}d").sum()
        nb_all, fr_all = fraud.rolling(f"{delay + days}d").count(), fraud.rolling(f"{delay + days}d").sum()
        count = (nb_all - nb_delay).to_numpy()
        risk = np.where(count > 0, (fr_all - fr_delay).to_numpy() / np.maximum(count, 1), 0.0)
        out.append(pd.DataFrame({"id": group["TRANSACTION_ID"].to_numpy(), "count": count, "risk": risk}))
    return pd.concat(out).set_index("id")


def test_handbook_features_match_the_pandas_reference(transactions: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    built = build_features(transactions, fraud_config)
    frame = built.frame.set_index("TRANSACTION_ID")
    for days in (1, 7, 30):
        ref = _reference_customer(transactions, days).loc[frame.index]
        np.testing.assert_array_equal(frame[f"CUSTOMER_ID_NB_TX_{days}DAY_WINDOW"], ref["count"])
        np.testing.assert_allclose(frame[f"CUSTOMER_ID_AVG_AMOUNT_{days}DAY_WINDOW"], ref["mean"], rtol=1e-9)
        ref_t = _reference_terminal(transactions, days, 7).loc[frame.index]
        np.testing.assert_array_equal(frame[f"TERMINAL_ID_NB_TX_{days}DAY_WINDOW"], ref_t["count"])
        np.testing.assert_allclose(frame[f"TERMINAL_ID_RISK_{days}DAY_WINDOW"], ref_t["risk"], atol=1e-12)
    assert len(built.feature_columns) == 19
    for days in (1, 7, 30):
        ratio = frame["TX_AMOUNT"] / frame[f"CUSTOMER_ID_AVG_AMOUNT_{days}DAY_WINDOW"].clip(lower=0.01)
        np.testing.assert_allclose(frame[f"CUSTOMER_ID_AMOUNT_RATIO_{days}DAY_WINDOW"], ratio)
    std = _reference_customer(transactions, 30).loc[frame.index, "std"].fillna(0)
    expected_z = (frame["TX_AMOUNT"] - frame["CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW"]) / std.clip(lower=1.0)
    np.testing.assert_allclose(frame["CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW"], expected_z, atol=1e-6)
    handbook_only = fraud_config.model_copy(
        update={"features": fraud_config.features.model_copy(update={"amount_profile": False})}
    )
    assert len(build_features(transactions, handbook_only).feature_columns) == 15
    weekend = frame["TX_DATETIME"].dt.weekday >= 5
    assert (frame["TX_DURING_WEEKEND"] == weekend.astype(int)).all()
    assert (frame["TX_DURING_NIGHT"] == (frame["TX_DATETIME"].dt.hour <= 6).astype(int)).all()


def test_no_label_leakage_from_the_delay_period(transactions: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    """Flipping every label of the last 7 days changes no feature of any transaction in those days."""
    last_week = transactions["TX_DATETIME"] >= transactions["TX_DATETIME"].max().normalize() - pd.Timedelta(days=6)
    flipped = transactions.copy()
    flipped.loc[last_week, "TX_FRAUD"] = 1 - flipped.loc[last_week, "TX_FRAUD"]
    a = build_features(transactions, fraud_config)
    b = build_features(flipped, fraud_config)
    ids = transactions.loc[last_week, "TRANSACTION_ID"]
    cols = a.feature_columns
    left = a.frame.set_index("TRANSACTION_ID").loc[ids, cols]
    right = b.frame.set_index("TRANSACTION_ID").loc[ids, cols]
    pd.testing.assert_frame_equal(left, right)
    assert "TX_FRAUD_SCENARIO" not in cols and "TX_FRAUD" not in cols


def test_passthrough_uses_numeric_schema_columns(breast_cancer_config: PipelineConfig) -> None:
    from ml_assets.simulate.sklearn_datasets import load_dataset

    raw = load_dataset("breast_cancer", "malignant", 0)
    built = build_features(raw, breast_cancer_config)
    assert len(built.feature_columns) == 30
    assert "record_id" not in built.feature_columns and "malignant" not in built.feature_columns
    assert built.frame["malignant"].sum() == 212
