"""Evaluation plots as PNG bytes: precision-recall curve and confusion matrix side by side."""

from __future__ import annotations

import io

import numpy as np


def evaluation_plot(labels: np.ndarray, scores: np.ndarray, *, threshold: float, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=90)
    PrecisionRecallDisplay.from_predictions(labels, scores, ax=left, name=title, plot_chance_level=True)
    left.set_title("Precision-recall (test)")
    ConfusionMatrixDisplay.from_predictions(labels, (scores >= threshold).astype(int), ax=right, colorbar=False)
    right.set_title(f"Confusion matrix at {threshold:g}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
