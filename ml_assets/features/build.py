"""Feature sets named in the config: ``fraud_handbook`` and ``passthrough``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_assets.config import PipelineConfig
from ml_assets.features.windows import EntityWindows

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


def _window_columns_fraud_handbook(config: PipelineConfig) -> list[str]:
    params = config.features
    columns = [config.data_schema.timestamp_column, params.amount_column, params.customer_column]
    return [*columns, params.terminal_column, config.data_schema.target]


def _fraud_handbook(
    raw: pd.DataFrame, config: PipelineConfig, history: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    params = config.features
    schema = config.data_schema

    def column(name: str, dtype=None) -> np.ndarray:
        # the history's rows first, then the rows to featurize: windows search both, only the latter are queried
        own = raw[name].to_numpy(dtype)
        return own if history is None else np.concatenate([history[name].to_numpy(dtype), own])

    before = 0 if history is None else len(history)
    seconds = column(schema.timestamp_column, "datetime64[s]").astype(np.int64)
    amount = column(params.amount_column, np.float64)
    labels = column(schema.target, np.float64)
    customer = column(params.customer_column)
    terminal = column(params.terminal_column)
    rows = np.arange(len(amount)) >= before
    own = raw[schema.timestamp_column]

    features: dict[str, np.ndarray] = {
        params.amount_column: amount[rows],
        "TX_DURING_WEEKEND": (own.dt.weekday >= 5).to_numpy(np.int64),
        "TX_DURING_NIGHT": (own.dt.hour <= 6).to_numpy(np.int64),
    }
    cards = EntityWindows(customer, seconds, query=rows)
    for days in params.windows_days:
        count, mean = cards.trailing_count_and_mean(amount, window_seconds=days * SECONDS_PER_DAY)
        features[f"CUSTOMER_ID_NB_TX_{days}DAY_WINDOW"] = count.astype(np.float64)
        features[f"CUSTOMER_ID_AVG_AMOUNT_{days}DAY_WINDOW"] = mean
    if params.amount_profile:
        _add_amount_profile(features, cards, amount=amount, windows=params.windows_days, rows=rows)
    terminals = EntityWindows(terminal, seconds, query=rows)
    for days in params.windows_days:
        count, risk = terminals.delayed_count_and_rate(
            labels, window_seconds=days * SECONDS_PER_DAY, delay_seconds=params.delay_days * SECONDS_PER_DAY
        )
        features[f"TERMINAL_ID_NB_TX_{days}DAY_WINDOW"] = count.astype(np.float64)
        features[f"TERMINAL_ID_RISK_{days}DAY_WINDOW"] = risk
    return pd.DataFrame(features, index=raw.index), list(features)


def _add_amount_profile(
    features: dict[str, np.ndarray],
    cards: EntityWindows,
    *,
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
    _, mean_square = cards.trailing_count_and_mean(amount**2, window_seconds=longest * SECONDS_PER_DAY)
    mean = features[f"CUSTOMER_ID_AVG_AMOUNT_{longest}DAY_WINDOW"]
    std = np.sqrt(np.maximum(mean_square - mean**2, 0.0))
    features[f"CUSTOMER_ID_AMOUNT_ZSCORE_{longest}DAY_WINDOW"] = (own - mean) / np.maximum(std, 1.0)


def _passthrough(
    raw: pd.DataFrame, config: PipelineConfig, history: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    schema = config.data_schema
    skip = {schema.target, schema.id_column, schema.timestamp_column, schema.entity_column, *config.features.exclude}
    columns = [
        name for name, spec in schema.columns.items() if name not in skip and spec.type in ("int", "float", "bool")
    ]
    return raw[columns].astype(np.float64), columns


# name: (the feature set, the columns its windows read from the history before the rows it featurizes)
_FEATURE_SETS = {
    "fraud_handbook": (_fraud_handbook, _window_columns_fraud_handbook),
    "passthrough": (_passthrough, lambda config: []),
}


def window_columns(config: PipelineConfig) -> list[str]:
    """The columns the config's feature set reads from the history (none: the set has no windows)."""
    return _FEATURE_SETS[config.features.set][1](config)


def build_features(raw: pd.DataFrame, config: PipelineConfig, *, history: pd.DataFrame | None = None) -> FeatureFrame:
    """Compute the config's feature set for every row of ``raw``; ``history`` (earlier rows, at least the
    ``window_columns``) is only read by the windows, never featurized. The result keeps id, time, entity and target
    beside the features."""
    schema = config.data_schema
    features, names = _FEATURE_SETS[config.features.set][0](raw, config, history)
    keep = [c for c in (schema.id_column, schema.timestamp_column, schema.entity_column) if c]
    frame = pd.concat([raw[keep], features, raw[[schema.target]].astype(np.int64)], axis=1)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    if schema.timestamp_column:
        frame = frame.sort_values(schema.timestamp_column, kind="stable").reset_index(drop=True)
    return FeatureFrame(frame, names, schema.target, schema.timestamp_column, schema.entity_column)
