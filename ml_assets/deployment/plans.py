"""Held-out traffic for releases and staging checks, derived from the training data (pure)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ml_assets.features.split import SPLIT_COLUMN


def held_out_records(
    training_data: pd.DataFrame, feature_columns: list[str], limit: int | None = None
) -> list[dict[str, Any]]:
    """Test-split feature rows as JSON records, the traffic a release and the staging checks replay."""
    test = training_data.loc[training_data[SPLIT_COLUMN] == "test", feature_columns]
    if limit is not None:
        test = test.head(limit)
    return [{k: float(v) for k, v in row.items()} for row in test.to_dict(orient="records")]
