"""One constructor per algorithm kind named in the config; all are scikit-learn compatible classifiers."""

from __future__ import annotations

from typing import Any

from ml_assets.config import AlgorithmConfig


def build_estimator(algorithm: AlgorithmConfig) -> Any:
    """A fresh, unfitted classifier with the config's hyperparameters."""
    params = dict(algorithm.params)
    if algorithm.kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(**params)
    if algorithm.kind == "xgboost":
        from xgboost import XGBClassifier

        params.setdefault("eval_metric", "aucpr")
        params.setdefault("tree_method", "hist")
        return XGBClassifier(**params)
    if algorithm.kind == "mlp":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if "hidden_layer_sizes" in params:
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        # Network weights only train well on standardized inputs; the scaler travels with the model.
        return make_pipeline(StandardScaler(), MLPClassifier(**params))
    raise ValueError(f"unknown algorithm kind {algorithm.kind!r}")


def feature_importances(model: Any) -> Any | None:
    """The model's own feature importances, or None for models that have none (the MLP)."""
    return getattr(model, "feature_importances_", None)
