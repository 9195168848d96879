"""Good and corrupted landing data for the bad-input tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml_assets.simulate import SimulationSpec, simulate_days


def recent_transactions(days: int = 3, customers: int = 50, seed: int = 1) -> list[tuple[dt.date, pd.DataFrame]]:
    """A few days of transactions ending yesterday, so the freshness rule holds."""
    start = dt.date.today() - dt.timedelta(days=days)
    spec = SimulationSpec(customers=customers, terminals=100, start=start, days=days, seed=seed)
    return list(simulate_days(spec))


def corrupt(frame: pd.DataFrame, case: str) -> pd.DataFrame:
    """The frame with one kind of content problem in a few rows (3 rows unless the case says otherwise)."""
    bad = frame.copy()
    rows = bad.index[:3]
    match case:
        case "nan":
            bad.loc[rows, "TX_AMOUNT"] = np.nan
        case "inf":
            bad.loc[rows, "TX_AMOUNT"] = np.inf
        case "negative_amount":
            bad.loc[rows, "TX_AMOUNT"] = -12.5
        case "label_outside_set":
            bad.loc[rows, "TX_FRAUD"] = 2
        case "duplicate_ids":
            bad.loc[rows, "TRANSACTION_ID"] = bad["TRANSACTION_ID"].iloc[-1]
        case "future_timestamps":
            bad.loc[rows, "TX_DATETIME"] = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=2)
        case "stale":
            bad["TX_DATETIME"] = bad["TX_DATETIME"] - pd.Timedelta(days=30)
        case _:
            raise ValueError(case)
    return bad


# case -> (failing check, text the failure must contain)
CONTENT_CASES = {
    "nan": ("completeness", "TX_AMOUNT: missing values (null/NaN): 3 rows"),
    "inf": ("value_ranges", "TX_AMOUNT: values outside [0, 100000] or not finite: 3 rows"),
    "negative_amount": ("value_ranges", "TX_AMOUNT: values outside [0, 100000] or not finite: 3 rows"),
    "label_outside_set": ("allowed_values", "TX_FRAUD: values outside the allowed set [0, 1]: 3 rows"),
    "duplicate_ids": ("uniqueness", "TRANSACTION_ID: duplicate values: 4 rows"),
    "future_timestamps": ("future_timestamps", "TX_DATETIME: timestamps after"),
    "stale": ("freshness", "TX_DATETIME: newest record older than"),
}
