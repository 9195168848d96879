"""Feature sets (pure pandas/numpy): turn validated raw records into model inputs without leakage."""

from ml_assets.features.build import FeatureFrame, build_features

__all__ = ["FeatureFrame", "build_features"]
