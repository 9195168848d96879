"""Fraud-detection metrics: average precision (primary), ROC AUC, card precision@k, precision/recall."""

from __future__ import annotations

import numpy as np
import pandas as pd


def card_precision_at_k(
    scores: np.ndarray, labels: np.ndarray, *, entity: np.ndarray, day: np.ndarray, k: int
) -> float:
    """Mean over days of the share of truly compromised cards among the day's k highest-scored cards.

    A card's daily score and label are its maximum over that day's transactions (Le Borgne et al., 4.2).
    """
    frame = pd.DataFrame({"day": day, "entity": entity, "score": scores, "label": labels})
    per_card = frame.groupby(["day", "entity"], sort=False).agg(score=("score", "max"), label=("label", "max"))
    top = per_card.sort_values("score", ascending=False).groupby(level="day", sort=False).head(k)
    daily = top.groupby(level="day")["label"].sum() / k
    return float(daily.mean())


def classification_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    entity: np.ndarray | None = None,
    day: np.ndarray | None = None,
    top_k: int = 100,
) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    labels = np.asarray(labels).astype(int)
    decisions = (scores >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, decisions, labels=[0, 1]).ravel()
    metrics = {
        "average_precision": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "true_positives": float(tp),
        "false_positives": float(fp),
        "false_negatives": float(fn),
        "true_negatives": float(tn),
        "prevalence": float(labels.mean()),
    }
    if entity is not None and day is not None:
        metrics["card_precision"] = card_precision_at_k(scores, labels, entity=entity, day=day, k=top_k)
    return metrics
