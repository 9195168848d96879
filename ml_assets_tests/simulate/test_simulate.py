import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml_assets.simulate import DriftSpec, SimulationSpec, simulate_days
from ml_assets.simulate.transactions import COLUMNS

pytestmark = pytest.mark.unit

START = dt.date(2018, 4, 1)


def _all(spec: SimulationSpec, first: int = 0) -> pd.DataFrame:
    return pd.concat([frame for _, frame in simulate_days(spec, first_day=first)], ignore_index=True)


def test_columns_dtypes_and_fraud_rate() -> None:
    frame = _all(SimulationSpec(customers=1000, terminals=2000, start=START, days=30, seed=1))
    assert list(frame.columns) == COLUMNS
    assert frame["TRANSACTION_ID"].is_unique
    assert frame["TX_DATETIME"].is_monotonic_increasing
    assert (frame["TX_AMOUNT"] >= 0).all()
    assert set(frame["TX_FRAUD_SCENARIO"].unique()) <= {0, 1, 2, 3}
    assert {1, 2, 3} <= set(frame["TX_FRAUD_SCENARIO"].unique())
    assert ((frame["TX_FRAUD"] == 1) == (frame["TX_FRAUD_SCENARIO"] > 0)).all()
    assert (frame.loc[frame["TX_AMOUNT"] > 220, "TX_FRAUD"] == 1).all()
    # ~2 tx/day/customer, times outside the day dropped; fraud a few percent at this density
    assert 1.5 * 1000 * 30 < len(frame) < 2.1 * 1000 * 30
    assert 0.002 < frame["TX_FRAUD"].mean() < 0.05
    assert (frame["TX_TIME_DAYS"] == (frame["TX_DATETIME"].dt.normalize() - pd.Timestamp(START)).dt.days).all()


def test_deterministic_and_independent_of_window_length() -> None:
    short = SimulationSpec(customers=200, terminals=400, start=START, days=10, seed=7)
    long = SimulationSpec(customers=200, terminals=400, start=START, days=40, seed=7)
    pd.testing.assert_frame_equal(_all(short), _all(short))
    # Day d is the same whether the simulation is 10 or 40 days long, so new days can be appended later.
    pd.testing.assert_frame_equal(_all(short), _all(long)[lambda f: f["TX_TIME_DAYS"] < 10].reset_index(drop=True))
    appended = _all(long, first=10)
    assert appended["TX_TIME_DAYS"].min() == 10
    assert not set(appended["TRANSACTION_ID"]) & set(_all(short)["TRANSACTION_ID"])
    other_seed = _all(SimulationSpec(customers=200, terminals=400, start=START, days=10, seed=8))
    assert not _all(short)["TX_AMOUNT"].equals(other_seed["TX_AMOUNT"])


def test_drift_shifts_amounts_adds_terminals_and_a_new_pattern() -> None:
    base = SimulationSpec(customers=500, terminals=1000, start=START, days=20, seed=3)
    drift = DriftSpec(
        start=START + dt.timedelta(days=10), amount_factor=1.5, new_terminals=300, card_testing_customers_per_day=4
    )
    drifted = _all(SimulationSpec(**{**base.__dict__, "drift": drift}))
    clean = _all(base)
    before = drifted["TX_TIME_DAYS"] < 10
    pd.testing.assert_frame_equal(
        drifted[before].reset_index(drop=True), clean[clean["TX_TIME_DAYS"] < 10].reset_index(drop=True)
    )
    legit_after = drifted[~before & (drifted["TX_FRAUD_SCENARIO"] == 0)]
    legit_clean = clean[(clean["TX_TIME_DAYS"] >= 10) & (clean["TX_FRAUD_SCENARIO"] == 0)]
    assert legit_after["TX_AMOUNT"].median() > 1.3 * legit_clean["TX_AMOUNT"].median()
    assert drifted["TERMINAL_ID"].max() >= 1000  # new terminals are used
    assert (drifted.loc[before, "TERMINAL_ID"] < 1000).all()
    testing = drifted[drifted["TX_FRAUD_SCENARIO"] == 4]
    assert len(testing) == 10 * 4 * 6
    assert (testing["TX_AMOUNT"] <= 5).all() and (testing["TX_DATETIME"].dt.hour < 6).all()


def test_reference_size_matches_the_handbook() -> None:
    spec = SimulationSpec(customers=5000, terminals=10000, start=START, days=183)
    counts = np.array([len(frame) for _, frame in simulate_days(spec, first_day=0, last_day=6)])
    # The handbook's 1.75 M transactions over 183 days are ~9,580 a day.
    assert 9000 < counts.mean() < 10200
