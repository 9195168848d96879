"""Model-ready views of the training_data table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_assets.config import PipelineConfig
from ml_assets.features.split import SPLIT_COLUMN
from ml_assets.training.metrics import classification_metrics


@dataclass(frozen=True)
class TrainTest:
    x_train: pd.DataFrame
    y_train: pd.Series
    x_test: pd.DataFrame
    y_test: pd.Series
    test_entity: np.ndarray | None
    test_day: np.ndarray | None


def entity_and_day(frame: pd.DataFrame, config: PipelineConfig) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each record's entity (card) and day, for card precision@k; (None, None) when the schema names no entity
    or timestamp."""
    schema = config.data_schema
    if not (schema.entity_column and schema.timestamp_column):
        return None, None
    day = pd.to_datetime(frame[schema.timestamp_column]).dt.normalize().to_numpy()
    return frame[schema.entity_column].to_numpy(), day


def train_test(frame: pd.DataFrame, feature_columns: list[str], config: PipelineConfig) -> TrainTest:
    schema = config.data_schema
    train = frame[frame[SPLIT_COLUMN] == "train"]
    test = frame[frame[SPLIT_COLUMN] == "test"]
    entity, day = entity_and_day(test, config)
    return TrainTest(
        x_train=train[feature_columns].astype(np.float64),
        y_train=train[schema.target].astype(np.int64),
        x_test=test[feature_columns].astype(np.float64),
        y_test=test[schema.target].astype(np.int64),
        test_entity=entity,
        test_day=day,
    )


def evaluate(model: object, data: TrainTest, config: PipelineConfig) -> tuple[dict[str, float], np.ndarray]:
    """Test-set metrics at the config's threshold, and the scores they came from."""
    scores = np.asarray(model.predict_proba(data.x_test))[:, 1]  # type: ignore[attr-defined]
    metrics = classification_metrics(
        data.y_test.to_numpy(),
        scores,
        threshold=config.evaluation.decision_threshold,
        entity=data.test_entity,
        day=data.test_day,
        top_k=config.evaluation.top_k,
    )
    return metrics, scores
