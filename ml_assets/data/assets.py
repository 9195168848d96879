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
from ml_assets.data.days import (
    SOURCE_ATTR,
    VERDICT_ATTR,
    DaysInMemory,
    QuarantinedDayError,
    check_within_day,
    day_of,
    file_of_day,
    quarantine_reason,
)
from ml_assets.data.expectations import CheckOutcome, plan_suite, planned_checks, summarize
from ml_assets.data.partitions import daily_partitions
from ml_assets.data.profile import profile_frame, profile_table
from ml_assets.data.schema import PANDAS_DTYPES, SOURCE_FILE_COLUMN, DataLoadError, concat_sources, conform
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


LOADS = "loads"
LOADS_DESCRIPTION = (
    "The day has exactly one landing file, readable, with the schema's columns and types, its records within the day."
)


def _unloadable(day: str, files: list, error: DataLoadError, schema) -> pd.DataFrame:
    """A day that cannot be loaded, stored as quarantined: no rows, the reason as its verdict, the version of the
    file(s) it came from (so a corrected file is a new version)."""
    frame = pd.DataFrame({name: pd.Series(dtype=PANDAS_DTYPES[spec.type]) for name, spec in schema.columns.items()})
    frame.attrs[DATA_VERSION_ATTR] = data_version({item.name: f"unloadable:{item.version}" for item in files})
    frame.attrs[SOURCE_ATTR] = ", ".join(item.name for item in files) or "no file"
    frame.attrs[VERDICT_ATTR] = {"passed": False, "failures": [str(error)]}
    return frame


def _batches(context: AssetExecutionContext, landing: LandingFolder, config: PipelineConfig) -> dict:
    """{day: frame} for the run's days, or {None: frame} of every file. A day that cannot be loaded (no file, two,
    unreadable, records outside the day) is quarantined, not the run: the other days go on."""
    listing = landing.files()
    names = [item.name for item in listing]
    if not config.partitioned:
        if not names:
            raise DataLoadError(f"no landing files in {landing.path}: run `ml-assets generate-data` or add files")
        return {None: _load(landing, names, config, None)}
    batches = {}
    for day in context.partition_keys:
        of_day = [item for item in listing if day_of(item.name) == day]
        try:
            batches[day] = _load(landing, [file_of_day(day, names, where=landing.path)], config, day)
        except DataLoadError as error:
            context.log.error(str(error))
            batches[day] = _unloadable(day, of_day, error, config.data_schema)
    return batches


def _validate(
    batches: dict, config: PipelineConfig, validator: GreatExpectationsValidator, checks: dict[str, str]
) -> tuple[dict, DataDocs | None, float]:
    """The check outcomes of each batch that loaded, the Data Docs, and the share of expectations met (percent).

    Every expectation is row-wise or within a batch, so a range that passes as a whole passes day by day: one
    validation of the run's days, and days one by one only when it fails, to say which (then a day is judged on its
    own: an id repeated across two days is no day's problem)."""
    schema = config.data_schema
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    plan = plan_suite(schema, now, freshness=not config.partitioned)
    suite = f"{config.name}_raw_data"
    suite_checks = [name for name in checks if name != LOADS]
    loaded = {key: frame for key, frame in batches.items() if VERDICT_ATTR not in frame.attrs}
    if not loaded:
        return {}, None, 0.0
    frames = list(loaded.values())
    whole = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    outcomes, docs = validator.validate(whole, plan, suite_name=suite, id_column=schema.id_column)
    if len(loaded) == 1 or all(o.success for o in outcomes):
        met = 100.0 * sum(o.success for o in outcomes) / len(outcomes) if outcomes else 100.0
        summary = summarize(outcomes, suite_checks)
        return {key: summary for key in loaded}, docs, met
    per_batch, shares, failed_docs = {}, [], None
    for key, frame in loaded.items():
        day_outcomes, day_docs = validator.validate(
            frame, plan, suite_name=f"{suite}_{key}", id_column=schema.id_column
        )
        per_batch[key] = summarize(day_outcomes, suite_checks)
        shares.append(100.0 * sum(o.success for o in day_outcomes) / max(len(day_outcomes), 1))
        if not all(o.success for o in day_outcomes):
            failed_docs = day_docs
    return per_batch, failed_docs or docs, sum(shares) / len(shares)


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
    if partitions is not None:  # a day that cannot be loaded is quarantined by this check, not a failed run
        checks = {LOADS: LOADS_DESCRIPTION, **checks}
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
            if key not in verdicts:  # could not be loaded: its verdict is set, the loads check says why
                failures = frame.attrs[VERDICT_ATTR]["failures"]
                outcome = CheckOutcome(LOADS, False, failures, 0, [])
                evaluations.append(_evaluation(outcome, rows=0, day=key, docs=None, description=LOADS_DESCRIPTION))
                continue
            failures = [f for outcome in verdicts[key] for f in outcome.failures]
            frame.attrs[VERDICT_ATTR] = {"passed": not failures, "failures": failures}
            if failures:
                context.log.error(f"{'day ' + key + ': ' if key else ''}validation failed: " + " | ".join(failures))
            loads = [CheckOutcome(LOADS, True, [], 0, [])] if partitions is not None else []
            evaluations += [
                _evaluation(outcome, rows=len(frame), day=key, docs=docs, description=checks[outcome.check])
                for outcome in [*loads, *verdicts[key]]
            ]
        yield _output(context, batches, partitioned=partitions is not None, config=config)
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
    def data_profile(context: AssetExecutionContext, raw_data) -> Output:  # StoredPartitions of days, or a frame
        keys = list(context.partition_keys) if partitions else [None]
        days = raw_data if partitions else DaysInMemory({None: raw_data})
        missing = [key for key in keys if key not in days]
        reasons = [reason for key in keys if key in days and (reason := quarantine_reason(str(key), days.attrs(key)))]
        if missing or reasons:
            raise QuarantinedDayError(
                "nothing is profiled from a day that is not stored or is quarantined:\n"
                + "\n".join(
                    [*(f"- day {day}: raw_data not materialized" for day in missing), *(f"- {r}" for r in reasons)]
                )
            )
        profiles = {}
        for key in keys:
            frame = days[key]
            profile = profile_frame(frame, schema)
            profile[DATA_VERSION_ATTR] = frame.attrs.get(DATA_VERSION_ATTR)
            profiles[key] = profile
        if partitions:  # each day its own figures and table
            for key, profile in profiles.items():
                context.add_asset_metadata(_profile_metadata(profile), partition_key=key)
            return Output(profiles, metadata={"run_days": len(profiles)})
        last = profiles[None]
        return Output(last, metadata={**_profile_metadata(last), "rows": last["rows"]})

    return [raw_data, data_profile]


def _profile_metadata(profile: dict) -> dict:
    return {
        "dagster/row_count": profile["rows"],
        "target_rate": profile["target_rate"],
        "profile": MetadataValue.md(profile_table(profile)),
    }


def _output(context: AssetExecutionContext, batches: dict, *, partitioned: bool, config: PipelineConfig) -> Output:
    """The stored value and its metadata: a partitioned run's days each get their own figures (rows, file, version,
    verdict, target rate, time span, preview), the run only its totals. Dagster records one data version per Output,
    so a day's data version is set only when the run has one day; its own version is always in its stored
    attributes and metadata."""
    if not partitioned:
        frame = next(iter(batches.values()))
        files = frame.attrs[SOURCE_ATTR].split(", ")
        metadata = {**_frame_metadata(frame, config), "rows": len(frame), "files": len(files)}
        metadata["source_files"] = ", ".join(files) if len(files) <= 5 else f"{len(files)} files"
        return Output(frame, data_version=DataVersion(frame.attrs[DATA_VERSION_ATTR]), metadata=metadata)
    for day, frame in batches.items():
        day_metadata = {
            **_frame_metadata(frame, config),
            "source_file": frame.attrs[SOURCE_ATTR],
            "verdict": "passed" if frame.attrs[VERDICT_ATTR]["passed"] else "quarantined",
        }
        context.add_asset_metadata(day_metadata, partition_key=day)
    quarantined = [key for key, f in batches.items() if not f.attrs[VERDICT_ATTR]["passed"]]
    metadata: dict = {"run_days": len(batches), "run_rows": sum(len(f) for f in batches.values())}
    if quarantined:
        metadata["quarantined_days"] = ", ".join(quarantined)
    if len(batches) > 1:
        return Output(batches, metadata=metadata)
    version = next(iter(batches.values())).attrs[DATA_VERSION_ATTR]
    return Output(batches, data_version=DataVersion(version), metadata=metadata)


def _frame_metadata(frame: pd.DataFrame, config: PipelineConfig) -> dict:
    """Row count, version, target rate, time span and a preview of one stored frame (a day, or every file)."""
    schema = config.data_schema
    metadata: dict = {"dagster/row_count": len(frame), "data_version": frame.attrs[DATA_VERSION_ATTR]}
    if not len(frame):
        return metadata
    metadata["target_rate"] = float(frame[schema.target].astype("float64").mean())
    metadata["preview"] = MetadataValue.md(
        frame.drop(columns=SOURCE_FILE_COLUMN, errors="ignore").head(10).to_markdown(index=False)
    )
    if schema.timestamp_column:
        metadata["oldest_record"] = str(frame[schema.timestamp_column].min())
        metadata["newest_record"] = str(frame[schema.timestamp_column].max())
    return metadata
