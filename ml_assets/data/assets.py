"""Raw landing data, validated as it is loaded, and its profile.

With daily partitions (``dataset.partitions``) a partition is one day's landing file: each day is loaded,
validated and stored on its own, with its own check verdicts, and a day that fails is quarantined (stored with
its failed verdict, which every reader refuses) while the other days go on. Without partitions, every landing
file is one batch.
"""

import datetime as dt
from collections.abc import Iterator

import pandas as pd
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)

from ml_assets.config import PipelineConfig
from ml_assets.data.days import SOURCE_ATTR, VERDICT_ATTR, check_within_day, file_of_day
from ml_assets.data.expectations import CheckOutcome, plan_suite, planned_checks, summarize
from ml_assets.data.partitions import daily_partitions
from ml_assets.data.profile import profile_frame, profile_table
from ml_assets.data.schema import SOURCE_FILE_COLUMN, DataLoadError, concat_sources, conform
from ml_assets.monitoring.catalog import DATA_QUALITY, pipeline_namespace
from ml_assets.provenance import DATA_VERSION_ATTR, data_version
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.metrics import MetricsStore
from ml_assets.resources.validation import DataDocs, GreatExpectationsValidator

RAW_DATA = AssetKey("raw_data")


def _load(landing: LandingFolder, names: list[str], config: PipelineConfig, day: str | None) -> pd.DataFrame:
    """One batch: the day's file (partitioned) or every file, conformed, each row naming its file."""
    schema = config.data_schema
    frames, digests = [], {}
    for name in names:
        raw, digests[name] = landing.read(name)
        frame = conform(raw, schema, name)
        if day is not None:
            check_within_day(
                frame[schema.timestamp_column], day, timezone=config.dataset.partitions.timezone, source=name
            )
        frames.append((name, frame))
    frame = concat_sources(frames)
    frame.attrs[DATA_VERSION_ATTR] = data_version(digests)  # the hash of exactly the bytes that were loaded
    frame.attrs[SOURCE_ATTR] = ", ".join(names)
    return frame


def _batches(context: AssetExecutionContext, landing: LandingFolder, config: PipelineConfig) -> dict:
    """{day: frame} for the run's days, or {None: frame} of every file."""
    names = [item.name for item in landing.files()]
    if not config.partitioned:
        if not names:
            raise DataLoadError(f"no landing files in {landing.path}: run `ml-assets generate-data` or add files")
        return {None: _load(landing, names, config, None)}
    days = list(context.partition_keys)
    files = {day: file_of_day(day, names, where=landing.path) for day in days}  # all named before any is read
    return {day: _load(landing, [files[day]], config, day) for day in days}


def _validate(
    batches: dict, config: PipelineConfig, validator: GreatExpectationsValidator, checks: dict[str, str]
) -> tuple[dict, DataDocs | None, float]:
    """Each batch's check outcomes, the Data Docs, and the share of expectations met (percent).

    Every expectation is row-wise or within a batch, so a range that passes as a whole passes day by day: one
    validation of the run's days, and days one by one only to say which failed."""
    schema = config.data_schema
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    plan = plan_suite(schema, now, freshness=not config.partitioned)
    suite = f"{config.name}_raw_data"
    whole = next(iter(batches.values())) if len(batches) == 1 else pd.concat(batches.values(), ignore_index=True)
    outcomes, docs = validator.validate(whole, plan, suite_name=suite, id_column=schema.id_column)
    met = 100.0 * sum(o.success for o in outcomes) / len(outcomes) if outcomes else 100.0
    if len(batches) == 1 or all(o.success for o in outcomes):
        summary = summarize(outcomes, list(checks))
        return {key: summary for key in batches}, docs, met
    per_batch = {}
    for key, frame in batches.items():
        day_outcomes, day_docs = validator.validate(
            frame, plan, suite_name=f"{suite}_{key}", id_column=schema.id_column
        )
        per_batch[key] = summarize(day_outcomes, list(checks))
        docs = day_docs if not all(o.success for o in day_outcomes) else docs
    return per_batch, docs, met


def _evaluation(
    outcome: CheckOutcome, *, rows: int, day: str | None, docs: DataDocs | None, description: str
) -> AssetCheckEvaluation:
    metadata: dict = {"rows_checked": rows, "failed_rows": outcome.failed_rows}
    if outcome.failures:
        metadata["failures"] = MetadataValue.md("\n".join(f"- {f}" for f in outcome.failures))
    if outcome.examples:
        metadata["examples"] = MetadataValue.json(outcome.examples)
    if docs is not None:
        metadata["data_docs"] = MetadataValue.url(docs.page)
        metadata["data_docs_index"] = MetadataValue.url(docs.index)
    prefix = f"day {day}: " if day else ""
    return AssetCheckEvaluation(
        asset_key=RAW_DATA,
        check_name=outcome.check,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        blocking=True,
        partition=day,
        description=prefix + ("; ".join(outcome.failures) if outcome.failures else description),
        metadata=metadata,
    )


def build_data_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    schema = config.data_schema
    partitions = daily_partitions(config)
    backfill = BackfillPolicy.single_run() if partitions else None
    checks = planned_checks(schema, freshness=not config.partitioned)
    specs = [
        AssetCheckSpec(name, asset=RAW_DATA, description=text, blocking=True, partitions_def=partitions)
        for name, text in checks.items()
    ]
    grain = "one day's landing file" if partitions else "every landing file"
    description = (
        f"The {config.name} dataset's {grain} at the schema's dtypes, validated by a Great Expectations suite built "
        "from the config's schema (a blocking check per kind of problem; a failed day is quarantined)."
    )

    @asset(
        group_name="data",
        description=description,
        partitions_def=partitions,
        backfill_policy=backfill,
        check_specs=specs,
    )
    def raw_data(
        context: AssetExecutionContext,
        landing: LandingFolder,
        validator: GreatExpectationsValidator,
        metrics: MetricsStore,
    ) -> Iterator:
        batches = _batches(context, landing, config)
        verdicts, docs, met = _validate(batches, config, validator, checks)
        metrics.put(pipeline_namespace(config.name), DATA_QUALITY, met)  # DataQualityScore: expectations met, %
        evaluations = []
        for key, frame in batches.items():
            failures = [f for outcome in verdicts[key] for f in outcome.failures]
            frame.attrs[VERDICT_ATTR] = {"passed": not failures, "failures": failures}
            if failures:
                context.log.error(f"{'day ' + key + ': ' if key else ''}validation failed: " + " | ".join(failures))
            evaluations += [
                _evaluation(outcome, rows=len(frame), day=key, docs=docs, description=checks[outcome.check])
                for outcome in verdicts[key]
            ]
        yield _output(batches, partitioned=partitions is not None, config=config)
        yield from evaluations
        for name in checks:
            output = context.assets_def.get_output_name_for_asset_check_key(AssetCheckKey(RAW_DATA, name))
            yield Output(None, output_name=output)

    @asset(
        group_name="data",
        partitions_def=partitions,
        backfill_policy=backfill,
        description="Per column: type, missing share, distinct count, range, quantiles, top values, target rate.",
    )
    def data_profile(raw_data) -> Output:  # a StoredPartitions of days, or one DataFrame
        days = raw_data if partitions else {None: raw_data}
        profiles = {}
        for key, frame in days.items():
            profile = profile_frame(frame, schema)
            profile[DATA_VERSION_ATTR] = frame.attrs.get(DATA_VERSION_ATTR)
            profiles[key] = profile
        last = profiles[max(profiles, key=str)]
        metadata = {
            "rows": last["rows"],
            "target_rate": last["target_rate"],
            "profile": MetadataValue.md(profile_table(last)),
        }
        return Output(profiles if partitions else last, metadata=metadata)

    return [raw_data, data_profile]


def _output(batches: dict, *, partitioned: bool, config: PipelineConfig) -> Output:
    schema = config.data_schema
    frames = list(batches.values())
    rows = sum(len(f) for f in frames)
    newest = frames[-1]
    metadata = {
        "rows": rows,
        "files": sum(len(f.attrs[SOURCE_ATTR].split(", ")) for f in frames),
        "target_rate": float(sum(f[schema.target].astype("float64").sum() for f in frames) / max(rows, 1)),
        "preview": MetadataValue.md(newest.drop(columns=SOURCE_FILE_COLUMN).head(10).to_markdown(index=False)),
    }
    quarantined = [key for key, f in batches.items() if not f.attrs[VERDICT_ATTR]["passed"]]
    if schema.timestamp_column:
        metadata["newest_record"] = str(max(f[schema.timestamp_column].max() for f in frames))
        metadata["oldest_record"] = str(min(f[schema.timestamp_column].min() for f in frames))
    if len(batches) == 1:  # per partition only when the run has one: a range's metadata goes to each of its days
        metadata["dagster/row_count"] = rows
    if not partitioned:
        version = newest.attrs[DATA_VERSION_ATTR]
        metadata["data_version"] = version
        metadata["source_files"] = newest.attrs[SOURCE_ATTR] if metadata["files"] <= 5 else f"{metadata['files']} files"
        return Output(newest, data_version=DataVersion(version), metadata=metadata)
    metadata["days"] = len(batches)
    if quarantined:
        metadata["quarantined_days"] = ", ".join(quarantined)
    if len(batches) > 1:  # a range: each day's version is in its stored attributes (Output takes one version)
        return Output(batches, metadata=metadata)
    metadata["source_file"] = newest.attrs[SOURCE_ATTR]
    metadata["data_version"] = newest.attrs[DATA_VERSION_ATTR]
    return Output(batches, data_version=DataVersion(newest.attrs[DATA_VERSION_ATTR]), metadata=metadata)
