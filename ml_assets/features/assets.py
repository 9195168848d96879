"""Features and the train/test split.

With daily partitions, a day's features are computed from that day plus the history their windows read, and
``training_data`` reads the split's window of days (each passed and current, see ``features.window``). Without,
both are computed from all the data.
"""

import warnings

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    BackfillPolicy,
    DataVersion,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    TimeWindowPartitionMapping,
    asset,
)

from ml_assets.config import PipelineConfig, TimeSplit
from ml_assets.data.days import DaysInMemory, QuarantinedDayError, day_range, quarantine_reason, shift
from ml_assets.data.labels import join_labels
from ml_assets.data.partitions import daily_partitions
from ml_assets.features.build import FEATURE_COLUMNS_ATTR, build_features, feature_columns_of, feature_frame
from ml_assets.features.incremental import features_by_day, inputs_version, label_window, lookback_days
from ml_assets.features.split import SPLIT_COLUMN, split_dataset
from ml_assets.features.window import training_window, window_days
from ml_assets.provenance import DATA_VERSION_ATTR
from ml_assets.resources.io_manager import StoredPartitions


def _summary(frame: pd.DataFrame, columns: list[str]) -> dict:
    # numpy, not DataFrame.describe: describe's quantiles cost more than the day's features in a backfill
    values = frame[columns].to_numpy(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty day: NaN figures
        described = pd.DataFrame(
            {
                "mean": np.nanmean(values, axis=0),
                "std": np.nanstd(values, axis=0, ddof=1),
                "min": np.nanmin(values, axis=0) if len(values) else np.nan,
                "max": np.nanmax(values, axis=0) if len(values) else np.nan,
            },
            index=columns,
        )
    return {
        "rows": len(frame),
        "feature_count": len(columns),
        "features": MetadataValue.md(described.to_markdown(floatfmt=".4g")),
    }


def build_feature_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    return [_daily_features(config), _windowed_training_data(config)] if config.partitioned else _whole(config)


def _daily_features(config: PipelineConfig) -> AssetsDefinition:
    history = lookback_days(config)
    window = label_window(config)
    ins = {"raw_data": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-history))}
    if window is not None:
        ins["labels"] = AssetIn(
            partition_mapping=TimeWindowPartitionMapping(start_offset=window[0], end_offset=window[1])
        )
    reads = f"the labels of days {-window[0]} to {-window[1]} before it" if window else "no labels"
    description = (
        f"The '{config.features.set}' feature set of a day, from that day's records and the {history} days before "
        f"it that its windows read, and {reads} (free of label leakage; the day's own labels are joined where they "
        "are used); a quarantined day is never read."
    )

    @asset(
        group_name="features",
        partitions_def=daily_partitions(config),
        backfill_policy=BackfillPolicy.single_run(),
        ins=ins,
        description=description,
    )
    def features(context: AssetExecutionContext, raw_data: StoredPartitions, **read: StoredPartitions) -> Output:
        days = list(context.partition_keys)  # ``read``: the labels, when the feature set reads any
        built = features_by_day(raw_data, read.get("labels", DaysInMemory()), days, config)
        for day, frame in built.items():  # each day its own figures; the run its totals
            summary = _summary(frame, feature_columns_of(frame))
            context.add_asset_metadata({**summary, "dagster/row_count": len(frame)}, partition_key=day)
        metadata = {"run_days": len(days), "run_rows": sum(len(f) for f in built.values()), "history_days": history}
        context.log.info(f"features of {days[0]}..{days[-1]} from {len(raw_data)} stored raw days")
        newest = built[days[-1]]
        version = DataVersion(newest.attrs[DATA_VERSION_ATTR]) if len(days) == 1 else None  # one per Output
        return Output(built, data_version=version, metadata=metadata)

    return features


def _windowed_training_data(config: PipelineConfig) -> AssetsDefinition:
    split = config.split
    assert isinstance(split, TimeSplit), "daily partitions use a time split (checked by the config)"
    schema = config.data_schema

    @asset(
        group_name="features",
        description="The split's window of days (train, gap, test) with their labels, each validated and featurized "
        "from the data as it is now; a `split` column marks train and test rows.",
    )
    def training_data(
        context: AssetExecutionContext,
        features: StoredPartitions,
        raw_data: StoredPartitions,
        labels: StoredPartitions,
    ) -> Output[pd.DataFrame]:
        # Attributes only of the days the window and their windows read: not the whole history.
        days = window_days(split, newest=max(features) if len(features) else None)
        history = lookback_days(config)
        reads = set(day_range([shift(days[0], -history), days[-1]]))
        window = training_window(
            split,
            first_partition=config.dataset.partitions.start.isoformat(),
            history_days=history,
            raw={day: raw_data.attrs(day) for day in raw_data if day in reads or day == min(raw_data)},
            labels={day: labels.attrs(day) for day in labels if day in reads},
            features={day: features.attrs(day) for day in features if day in days},
        )
        if window.skipped:
            context.log.warning(f"training window: skipped failed days {', '.join(window.skipped)}")
        frames = {day: join_labels(features[day], labels[day], schema, day=day) for day in window.days}
        combined = pd.concat(frames.values(), ignore_index=True)
        columns = feature_columns_of(next(iter(frames.values())))
        anchored = split.model_copy(update={"train_start": pd.Timestamp(window.train_start).date()})
        frame = split_dataset(
            feature_frame(_with_columns(combined, columns), config),
            anchored,
            timezone=config.dataset.partitions.timezone,
        )
        partition_versions = {
            day: inputs_version(
                {"features": f.attrs[DATA_VERSION_ATTR], "labels": labels.attrs(day)[DATA_VERSION_ATTR]}
            )
            for day, f in frames.items()
        }
        frame.attrs[FEATURE_COLUMNS_ATTR] = columns
        frame.attrs[DATA_VERSION_ATTR] = inputs_version(partition_versions)
        metadata = _split_metadata(frame, config)
        metadata["window"] = f"{window.days[0]} .. {window.days[-1]} ({len(window.days)} days)"
        metadata["skipped_days"] = ", ".join(window.skipped) or "none"
        metadata["data_version"] = frame.attrs[DATA_VERSION_ATTR]
        metadata["partition_versions"] = MetadataValue.json(partition_versions)
        return Output(frame, data_version=DataVersion(frame.attrs[DATA_VERSION_ATTR]), metadata=metadata)

    return training_data


def _with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame.attrs[FEATURE_COLUMNS_ATTR] = columns
    return frame


def _split_metadata(frame: pd.DataFrame, config: PipelineConfig) -> dict:
    target = config.data_schema.target
    stats = frame.groupby(SPLIT_COLUMN)[target].agg(["count", "sum", "mean"])
    columns = [TableColumn(c, "float64", description="model input") for c in feature_columns_of(frame)]
    metadata: dict = {
        "dagster/row_count": len(frame),
        "dagster/column_schema": TableSchema(
            columns=[*columns, TableColumn(target, "int64", description="target"), TableColumn(SPLIT_COLUMN, "string")]
        ),
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
    return metadata


def _whole(config: PipelineConfig) -> list[AssetsDefinition]:
    @asset(group_name="features", description=f"The '{config.features.set}' feature set, free of label leakage.")
    def features(raw_data: pd.DataFrame) -> Output[pd.DataFrame]:
        reason = quarantine_reason("(all files)", raw_data.attrs)
        if reason:
            raise QuarantinedDayError(f"no features from data that failed validation: {reason}")
        built = build_features(raw_data, config)
        frame = built.frame
        frame.attrs[FEATURE_COLUMNS_ATTR] = built.feature_columns
        frame.attrs[DATA_VERSION_ATTR] = raw_data.attrs.get(DATA_VERSION_ATTR)
        return Output(frame, metadata=_summary(frame, built.feature_columns))

    @asset(
        group_name="features",
        description="Train and test rows (a `split` column): by time with a delay gap, or random.",
    )
    def training_data(features: pd.DataFrame) -> Output[pd.DataFrame]:
        frame = split_dataset(feature_frame(features, config), config.split)
        frame.attrs.update({k: features.attrs.get(k) for k in (FEATURE_COLUMNS_ATTR, DATA_VERSION_ATTR)})
        return Output(frame, metadata=_split_metadata(frame, config))

    return [features, training_data]
