"""Raw landing data and its profile."""

import pandas as pd
from dagster import AssetExecutionContext, AssetsDefinition, DataVersion, MetadataValue, Output, asset

from ml_assets.config import PipelineConfig
from ml_assets.data.profile import profile_frame, profile_table
from ml_assets.data.schema import SOURCE_FILE_COLUMN, DataLoadError, concat_sources, conform
from ml_assets.provenance import DATA_VERSION_ATTR, data_version
from ml_assets.resources.landing import LandingFolder


def build_data_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    schema = config.data_schema

    @asset(group_name="data", description=f"Every landing file of the {config.name} dataset, at the schema's dtypes.")
    def raw_data(context: AssetExecutionContext, landing: LandingFolder) -> Output[pd.DataFrame]:
        files = landing.files()
        if not files:
            raise DataLoadError(f"no landing files in {landing.path}: run `ml-assets generate-data` or add files")
        frames, digests = [], {}
        for item in files:
            raw, digests[item.name] = landing.read(item.name)
            frames.append((item.name, conform(raw, schema, item.name)))
        frame = concat_sources(frames)
        version = data_version(digests)  # the hash of exactly the bytes that were loaded
        frame.attrs[DATA_VERSION_ATTR] = version
        metadata = {
            "rows": len(frame),
            "files": len(files),
            "first_file": files[0].name,
            "last_file": files[-1].name,
            "data_version": version,
            "target_rate": float(frame[schema.target].astype("float64").mean()),
            "preview": MetadataValue.md(frame.drop(columns=SOURCE_FILE_COLUMN).head(10).to_markdown(index=False)),
        }
        if schema.timestamp_column:
            metadata["newest_record"] = str(frame[schema.timestamp_column].max())
            metadata["oldest_record"] = str(frame[schema.timestamp_column].min())
        context.log.info(f"loaded {len(frame):,} rows from {len(files)} files (data version {version})")
        return Output(frame, data_version=DataVersion(version), metadata=metadata)

    @asset(
        group_name="data",
        description="Per column: type, missing share, distinct count, range, quantiles, top values, target rate.",
    )
    def data_profile(raw_data: pd.DataFrame) -> Output[dict]:
        profile = profile_frame(raw_data, schema)
        profile[DATA_VERSION_ATTR] = raw_data.attrs.get(DATA_VERSION_ATTR)
        return Output(
            profile,
            metadata={
                "rows": profile["rows"],
                "target_rate": profile["target_rate"],
                "profile": MetadataValue.md(profile_table(profile)),
            },
        )

    return [raw_data, data_profile]
