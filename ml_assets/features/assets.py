"""Features and the train/test split."""

import pandas as pd
from dagster import AssetsDefinition, MetadataValue, Output, asset

from ml_assets.config import PipelineConfig
from ml_assets.features.build import FEATURE_COLUMNS_ATTR, build_features, feature_frame
from ml_assets.features.split import SPLIT_COLUMN, split_dataset
from ml_assets.provenance import DATA_VERSION_ATTR


def build_feature_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    @asset(group_name="features", description=f"The '{config.features.set}' feature set, free of label leakage.")
    def features(raw_data: pd.DataFrame) -> Output[pd.DataFrame]:
        built = build_features(raw_data, config)
        frame = built.frame
        frame.attrs[FEATURE_COLUMNS_ATTR] = built.feature_columns
        frame.attrs[DATA_VERSION_ATTR] = raw_data.attrs.get(DATA_VERSION_ATTR)
        summary = frame[built.feature_columns].describe().T[["mean", "std", "min", "max"]]
        return Output(
            frame,
            metadata={
                "rows": len(frame),
                "feature_count": len(built.feature_columns),
                "features": MetadataValue.md(summary.to_markdown(floatfmt=".4g")),
            },
        )

    @asset(
        group_name="features",
        description="Train and test rows (a `split` column): by time with a delay gap, or random.",
    )
    def training_data(features: pd.DataFrame) -> Output[pd.DataFrame]:
        frame = split_dataset(feature_frame(features, config), config.split)
        frame.attrs.update({k: features.attrs.get(k) for k in (FEATURE_COLUMNS_ATTR, DATA_VERSION_ATTR)})
        target = config.data_schema.target
        stats = frame.groupby(SPLIT_COLUMN)[target].agg(["count", "sum", "mean"])
        metadata: dict = {
            "train_rows": int(stats.loc["train", "count"]),
            "test_rows": int(stats.loc["test", "count"]),
            "train_positive_rate": float(stats.loc["train", "mean"]),
            "test_positive_rate": float(stats.loc["test", "mean"]),
            "split": config.split.method,
        }
        ts = config.data_schema.timestamp_column
        if ts:
            for part in ("train", "test"):
                times = frame.loc[frame[SPLIT_COLUMN] == part, ts]
                metadata[f"{part}_period"] = f"{times.min():%Y-%m-%d} .. {times.max():%Y-%m-%d}"
        return Output(frame, metadata=metadata)

    return [features, training_data]
