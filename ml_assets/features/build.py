"""Feature sets named in the config: ``fraud_handbook`` and ``passthrough``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_assets.config import PipelineConfig
from ml_assets.features.windows import delayed_count_and_rate, trailing_count_and_mean

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class FeatureFrame:
    """Model inputs plus the columns needed to split and evaluate (target, time, entity)."""

    frame: pd.DataFrame
    feature_columns: list[str]
    target: str
    timestamp: str | None
    entity: str | None


# Stored features/training_data tables carry their model input columns in this frame attribute.
FEATURE_COLUMNS_ATTR = "feature_columns"


def feature_columns_of(frame: pd.DataFrame) -> list[str]:
    """The model input columns of a stored features/training_data table."""
    return list(frame.attrs[FEATURE_COLUMNS_ATTR])


def feature_frame(frame: pd.DataFrame, config: PipelineConfig) -> FeatureFrame:
    """Rebuild the FeatureFrame view of a stored features/training_data table."""
    schema = config.data_schema
    return FeatureFrame(frame, feature_columns_of(frame), schema.target, schema.timestamp_column, schema.entity_column)


def _fraud_handbook(raw: pd.DataFrame, config: PipelineConfig, rows: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    params = config.features
    schema = config.data_schema
    ts = raw[schema.timestamp_column]
    seconds = ts.to_numpy("datetime64[s]").astype(np.int64)
    amount = raw[params.amount_column].to_numpy(np.float64)
    labels = raw[schema.target].to_numpy(np.float64)
    customer = raw[params.customer_column].to_numpy()
    terminal = raw[params.terminal_column].to_numpy()
    own = ts[rows]

    features: dict[str, np.ndarray] = {
        params.amount_column: amount[rows],
        "TX_DURING_WEEKEND": (own.dt.weekday >= 5).to_numpy(np.int64),
        "TX_DURING_NIGHT": (own.dt.hour <= 6).to_numpy(np.int64),
    }
    for days in params.windows_days:
        count, mean = trailing_count_and_mean(
            customer, seconds, amount, window_seconds=days * SECONDS_PER_DAY, query=rows
        )
        features[f"CUSTOMER_ID_NB_TX_{days}DAY_WINDOW"] = count.astype(np.float64)
        features[f"CUSTOMER_ID_AVG_AMOUNT_{days}DAY_WINDOW"] = mean
    if params.amount_profile:
        _add_amount_profile(features, customer, seconds=seconds, amount=amount, windows=params.windows_days, rows=rows)
    for days in params.windows_days:
        count, risk = delayed_count_and_rate(
            terminal,
            seconds,
            labels,
            window_seconds=days * SECONDS_PER_DAY,
            delay_seconds=params.delay_days * SECONDS_PER_DAY,
            query=rows,
        )
        features[f"TERMINAL_ID_NB_TX_{days}DAY_WINDOW"] = count.astype(np.float64)
        features[f"TERMINAL_ID_RISK_{days}DAY_WINDOW"] = risk
    feature_frame = pd.DataFrame(features, index=raw.index[rows])
    return feature_frame, list(features)


def _add_amount_profile(
    features: dict[str, np.ndarray],
    customer: np.ndarray,
    *,
    seconds: np.ndarray,
    amount: np.ndarray,
    windows: list[int],
    rows: np.ndarray,
) -> None:
    """How unusual the amount is for this card: ratio to its window means, z-score against its longest window.

    Trees only approximate ratios with many splits; stolen cards used for amounts far above the owner's habit
    (the handbook's third scenario) stand out directly in these.
    """
    own = amount[rows]
    for days in windows:
        mean = features[f"CUSTOMER_ID_AVG_AMOUNT_{days}DAY_WINDOW"]
        features[f"CUSTOMER_ID_AMOUNT_RATIO_{days}DAY_WINDOW"] = own / np.maximum(mean, 0.01)
    longest = max(windows)
    _, mean_square = trailing_count_and_mean(
        customer, seconds, amount**2, window_seconds=longest * SECONDS_PER_DAY, query=rows
    )
    mean = features[f"CUSTOMER_ID_AVG_AMOUNT_{longest}DAY_WINDOW"]
    std = np.sqrt(np.maximum(mean_square - mean**2, 0.0))
    features[f"CUSTOMER_ID_AMOUNT_ZSCORE_{longest}DAY_WINDOW"] = (own - mean) / np.maximum(std, 1.0)


def _passthrough(raw: pd.DataFrame, config: PipelineConfig, rows: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    schema = config.data_schema
    skip = {schema.target, schema.id_column, schema.timestamp_column, schema.entity_column, *config.features.exclude}
    columns = [
        name for name, spec in schema.columns.items() if name not in skip and spec.type in ("int", "float", "bool")
    ]
    return raw.loc[rows, columns].astype(np.float64), columns


_FEATURE_SETS = {"fraud_handbook": _fraud_handbook, "passthrough": _passthrough}


def build_features(raw: pd.DataFrame, config: PipelineConfig, *, rows: np.ndarray | None = None) -> FeatureFrame:
    """Compute the config's feature set for the rows ``rows`` selects (a boolean mask; None: every row), the others
    serving only as the history their windows read; the result keeps id, time, entity and target beside them."""
    schema = config.data_schema
    rows = np.ones(len(raw), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    features, names = _FEATURE_SETS[config.features.set](raw, config, rows)
    keep = [c for c in (schema.id_column, schema.timestamp_column, schema.entity_column) if c]
    chosen = raw.loc[rows]
    frame = pd.concat([chosen[keep], features, chosen[[schema.target]].astype(np.int64)], axis=1)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    if schema.timestamp_column:
        frame = frame.sort_values(schema.timestamp_column, kind="stable").reset_index(drop=True)
    return FeatureFrame(frame, names, schema.target, schema.timestamp_column, schema.entity_column)
