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
    AssetOut,
    AssetRecordsFilter,
    AssetsDefinition,
    BackfillPolicy,
    DataVersion,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

# Not exported by dagster; it is the field an evaluation's target materialization is recorded in.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as Target,
)

from ml_assets.config import PipelineConfig
from ml_assets.data.days import (
    SOURCE_ATTR,
    VERDICT_ATTR,
    QuarantinedDayError,
    StoredDays,
    check_within_day,
    day_of,
    file_of_day,
    quarantine_reason,
)
from ml_assets.data.expectations import CheckOutcome, plan_suite, planned_checks, summarize
from ml_assets.data.labels import join_labels, only_labels_changed, split_labels
from ml_assets.data.partitions import daily_partitions
from ml_assets.data.profile import profile_frame, profile_table
from ml_assets.data.schema import PANDAS_DTYPES, SOURCE_FILE_COLUMN, DataLoadError, concat_sources, conform
from ml_assets.monitoring.catalog import DATA_QUALITY, pipeline_namespace
from ml_assets.provenance import DATA_VERSION_ATTR, data_version
from ml_assets.resources.io_manager import StoredPartitions
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.metrics import MetricsStore
from ml_assets.resources.validation import DataDocs, GreatExpectationsValidator

RAW_DATA = AssetKey("raw_data")
LABELS = AssetKey("labels")


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
    """A day that cannot be loaded, stored as quarantined: no rows, the file(s) it came from, the reason as its
    verdict (the landing sensor sees a corrected file by its own version)."""
    frame = pd.DataFrame({name: pd.Series(dtype=PANDAS_DTYPES[spec.type]) for name, spec in schema.columns.items()})
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
    outcome: CheckOutcome,
    *,
    rows: int,
    day: str | None,
    docs: DataDocs | None,
    description: str,
    target: Target | None = None,
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
        target_materialization_data=target,
    )


def _targets(context: AssetExecutionContext, days: list[str]) -> dict[str, Target]:
    """{day: its latest raw_data materialization}: what a day's check evaluations are about. Dagster counts a
    partition's check as passed (``all_deps_blocking_checks_passed``) only when it targets the partition's latest
    materialization, and fills the target in only for ``AssetCheckResult``s of a one-partition step."""
    found: dict[str, Target] = {}

    def latest(chunk: list[str]) -> None:  # the newest records first: the first one of a day is its latest
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=RAW_DATA, asset_partitions=chunk), limit=len(chunk)
        ).records
        for record in records:
            day = record.partition_key
            if day is not None and day not in found:
                found[day] = Target(storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)

    for start in range(0, len(days), 100):  # one query per 100 days: each day was just stored, so each is there
        latest(days[start : start + 100])
    for day in [d for d in days if d not in found]:  # a day not stored by this run (its labels alone were)
        latest([day])
    return found


def build_data_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    schema = config.data_schema
    partitions = daily_partitions(config)
    checks = planned_checks(schema, freshness=not config.partitioned)
    if partitions is not None:  # a day that cannot be loaded is quarantined by this check, not a failed run
        checks = {LOADS: LOADS_DESCRIPTION, **checks}
    specs = [
        AssetCheckSpec(name, asset=RAW_DATA, description=text, blocking=True, partitions_def=partitions)
        for name, text in checks.items()
    ]

    def load_and_validate(
        context: AssetExecutionContext,
        landing: LandingFolder,
        validator: GreatExpectationsValidator,
        metrics: MetricsStore,
    ) -> Iterator:
        batches = _batches(context, landing, config)
        verdicts, docs, met = _validate(batches, config, validator, checks)
        metrics.put(pipeline_namespace(config.name), DATA_QUALITY, met)  # DataQualityScore: expectations met, %
        evaluations = []  # (outcome, its figures): evaluated once the days are stored, against what was stored
        for key, frame in batches.items():
            if key not in verdicts:  # could not be loaded: its verdict is set, the loads check says why
                failures = frame.attrs[VERDICT_ATTR]["failures"]
                outcome = CheckOutcome(LOADS, False, failures, 0, [])
                evaluations.append((outcome, {"rows": 0, "day": key, "docs": None, "description": LOADS_DESCRIPTION}))
                continue
            failures = [f for outcome in verdicts[key] for f in outcome.failures]
            frame.attrs[VERDICT_ATTR] = {"passed": not failures, "failures": failures}
            if failures:
                context.log.error(f"{'day ' + key + ': ' if key else ''}validation failed: " + " | ".join(failures))
            loads = [CheckOutcome(LOADS, True, [], 0, [])] if partitions is not None else []
            evaluations += [
                (outcome, {"rows": len(frame), "day": key, "docs": docs, "description": checks[outcome.check]})
                for outcome in [*loads, *verdicts[key]]
            ]
        if partitions is None:
            yield _whole_output(batches[None], config)
        else:
            yield from _day_outputs(context, batches, config)
        targets = _targets(context, list(batches)) if partitions is not None else {}
        for outcome, figures in evaluations:
            yield _evaluation(outcome, **figures, target=targets.get(figures["day"]))
        for name in checks:
            output = context.assets_def.get_output_name_for_asset_check_key(AssetCheckKey(RAW_DATA, name))
            yield Output(None, output_name=output)

    if partitions is None:
        raw_data = asset(
            name="raw_data",
            group_name="data",
            check_specs=specs,
            description=f"The {config.name} dataset's landing files at the schema's dtypes, validated by a Great "
            "Expectations suite built from the config's schema (a blocking check per kind of problem).",
        )(load_and_validate)
    else:
        raw_data = multi_asset(
            name="raw_data",
            outs={
                "raw_data": AssetOut(
                    key=RAW_DATA,
                    group_name="data",
                    is_required=False,
                    description=f"The {config.name} dataset's records of one day's landing file (every column but "
                    "the target) at the schema's dtypes, validated with the day's labels by a Great Expectations "
                    "suite built from the config's schema (a blocking check per kind of problem; a failed day is "
                    "quarantined). A correction that changes only labels leaves it as it is.",
                ),
                "labels": AssetOut(
                    key=LABELS,
                    group_name="data",
                    is_required=False,
                    description=f"The day's labels ({schema.id_column}, {schema.target}) from the same file, stored "
                    "apart from the records: labels arrive late, and a correction re-runs only what reads them.",
                ),
            },
            check_specs=specs,
            partitions_def=partitions,
            backfill_policy=BackfillPolicy.single_run(),
            can_subset=False,
        )(load_and_validate)
    return [raw_data, _profile_asset(config)]


def _profile_asset(config: PipelineConfig) -> AssetsDefinition:
    partitions = daily_partitions(config)
    description = "Per column: type, missing share, distinct count, range, quantiles, top values, target rate."
    if partitions is None:

        @asset(group_name="data", description=description)
        def data_profile(raw_data: pd.DataFrame) -> Output:
            reason = quarantine_reason("(all files)", raw_data.attrs)
            if reason:
                raise QuarantinedDayError(f"nothing is profiled from data that failed validation: {reason}")
            profile = profile_frame(raw_data, config.data_schema)
            profile[DATA_VERSION_ATTR] = raw_data.attrs.get(DATA_VERSION_ATTR)
            return Output(profile, metadata={**_profile_metadata(profile), "rows": profile["rows"]})

        return data_profile

    @asset(
        group_name="data",
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        description=description + " Of the day's records with its labels.",
    )
    def data_profile(context: AssetExecutionContext, raw_data: StoredPartitions, labels: StoredPartitions) -> Output:
        profiles = {day: _day_profile(day, raw_data, labels, config) for day in context.partition_keys}
        for day, profile in profiles.items():  # each day its own figures and table
            context.add_asset_metadata(_profile_metadata(profile), partition_key=day)
        return Output(profiles, metadata={"run_days": len(profiles)})

    return data_profile


def _day_profile(day: str, raw_data: StoredDays, labels: StoredDays, config: PipelineConfig) -> dict:
    """The profile of a stored day's records with its labels; a clear error for a day not stored or quarantined."""
    missing = [name for name, part in (("raw_data", raw_data), ("labels", labels)) if day not in part]
    if missing:
        raise QuarantinedDayError(f"day {day}: {' and '.join(missing)} not materialized: nothing is profiled")
    reason = quarantine_reason(day, raw_data.attrs(day))
    if reason:
        raise QuarantinedDayError(f"nothing is profiled from a quarantined day: {reason}")
    frame = join_labels(raw_data[day], labels[day], config.data_schema, day=day)
    return {**profile_frame(frame, config.data_schema), DATA_VERSION_ATTR: raw_data.attrs(day).get(DATA_VERSION_ATTR)}


def _profile_metadata(profile: dict) -> dict:
    return {
        "dagster/row_count": profile["rows"],
        "target_rate": profile["target_rate"],
        "profile": MetadataValue.md(profile_table(profile)),
    }


def _whole_output(frame: pd.DataFrame, config: PipelineConfig) -> Output:
    """Every landing file as one stored frame, with its figures."""
    files = frame.attrs[SOURCE_ATTR].split(", ")
    metadata = {**_frame_metadata(frame, config), "rows": len(frame), "files": len(files)}
    metadata["source_files"] = ", ".join(files) if len(files) <= 5 else f"{len(files)} files"
    return Output(frame, data_version=DataVersion(frame.attrs[DATA_VERSION_ATTR]), metadata=metadata)


def _day_outputs(context: AssetExecutionContext, batches: dict, config: PipelineConfig) -> Iterator[Output]:
    """The run's days as records (``raw_data``) and labels (``labels``), each day with its own figures (rows, file,
    version, verdict, target rate, time span, preview), the run only its totals. Dagster records one data version
    per Output, so a day's data version is set only when the run has one day; its own version is always in its
    stored attributes and metadata.

    A run of one day whose labels changed and records did not (both passed) stores only its labels: a labels
    correction then updates only what reads labels (a range run, or a plain re-run, stores everything it loaded)."""
    schema = config.data_schema
    records, labels = {}, {}
    for day, frame in batches.items():
        records[day], labels[day] = split_labels(frame, schema)
    labels_only = False
    if len(batches) == 1:  # a range run stores everything it loaded
        single = next(iter(batches))
        labels_only = only_labels_changed(
            records=_versioned(records[single]),
            labels=_versioned(labels[single]),
            stored_records=_stored(context, RAW_DATA, single),
            stored_labels=_stored(context, LABELS, single),
        )
    quarantined = [day for day, f in batches.items() if not f.attrs[VERDICT_ATTR]["passed"]]
    outputs = [(LABELS, labels)] if labels_only else [(RAW_DATA, records), (LABELS, labels)]
    if labels_only:
        context.log.info(f"day {single}: only its labels changed: labels stored, raw_data kept")
    for key, days in outputs:
        for day, frame in days.items():
            day_metadata = {
                **_frame_metadata(frame, config),
                "source_file": frame.attrs[SOURCE_ATTR],
                "verdict": "passed" if frame.attrs[VERDICT_ATTR]["passed"] else "quarantined",
            }
            if key == LABELS and len(frame):
                day_metadata["positives"] = int(frame[schema.target].sum())
            context.add_asset_metadata(day_metadata, asset_key=key, partition_key=day)
        metadata: dict = {"run_days": len(days), "run_rows": sum(len(f) for f in days.values())}
        if quarantined:
            metadata["quarantined_days"] = ", ".join(quarantined)
        version = DataVersion(next(iter(days.values())).attrs[DATA_VERSION_ATTR]) if len(days) == 1 else None
        yield Output(days, output_name=key.to_python_identifier(), data_version=version, metadata=metadata)


def _versioned(frame: pd.DataFrame) -> dict:
    return {"version": frame.attrs[DATA_VERSION_ATTR], "passed": frame.attrs[VERDICT_ATTR]["passed"]}


def _stored(context: AssetExecutionContext, key: AssetKey, day: str) -> dict:
    """The version and verdict of the latest materialization of ``key`` for ``day`` (empty when none)."""
    latest = context.instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1)
    if not latest.records or latest.records[0].asset_materialization is None:
        return {}
    metadata = latest.records[0].asset_materialization.metadata
    version, verdict = metadata.get("data_version"), metadata.get("verdict")
    return {
        "version": version.value if version is not None else None,
        "passed": verdict is not None and verdict.value == "passed",
    }


def _frame_metadata(frame: pd.DataFrame, config: PipelineConfig) -> dict:
    """Row count, version, a preview, and the target rate or time span (of the columns it has) of one stored frame
    (a day's records or labels, or every file)."""
    schema = config.data_schema
    metadata: dict = {"dagster/row_count": len(frame), "data_version": frame.attrs[DATA_VERSION_ATTR]}
    if not len(frame):
        return metadata
    metadata["preview"] = MetadataValue.md(
        frame.drop(columns=SOURCE_FILE_COLUMN, errors="ignore").head(10).to_markdown(index=False)
    )
    if schema.target in frame:
        metadata["target_rate"] = float(frame[schema.target].astype("float64").mean())
    if schema.timestamp_column in frame:
        metadata["oldest_record"] = str(frame[schema.timestamp_column].min())
        metadata["newest_record"] = str(frame[schema.timestamp_column].max())
    return metadata
