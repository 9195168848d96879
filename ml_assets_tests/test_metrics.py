import numpy as np
import pytest

from ml_assets.training.metrics import card_precision_at_k, classification_metrics


def test_card_precision_takes_each_cards_daily_max() -> None:
    day = np.array([0, 0, 0, 0, 1, 1, 1])
    card = np.array([1, 1, 2, 3, 1, 2, 3])
    score = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.6])
    label = np.array([0, 1, 0, 0, 0, 0, 1])
    # day 0: top-2 cards are 1 (max 0.9, label max 1) and 2 (0.8, 0) -> 0.5; day 1: cards 2 (0) and 3 (1) -> 0.5
    assert card_precision_at_k(score, label, card, day, k=2) == 0.5


def test_threshold_metrics() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.6, 0.7, 0.4, 0.9])
    metrics = classification_metrics(labels, scores, threshold=0.5)
    assert metrics["precision"] == 2 / 3 and metrics["recall"] == 2 / 3
    assert metrics["true_positives"] == 2 and metrics["false_positives"] == 1
    assert metrics["average_precision"] == pytest.approx(11 / 12)  # 1/3 * (1 + 1 + 3/4)
    assert metrics["roc_auc"] == pytest.approx(5 / 6)
    assert "card_precision" not in metrics
