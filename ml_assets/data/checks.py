"""Blocking validation checks on the raw data: a failure stops every downstream asset."""

import datetime as dt
from collections.abc import Iterator

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from ml_assets.config import PipelineConfig
from ml_assets.data.expectations import plan_suite, planned_checks, summarize
from ml_assets.monitoring.catalog import DATA_QUALITY, pipeline_namespace
from ml_assets.resources.metrics import MetricsStore
from ml_assets.resources.validation import GreatExpectationsValidator


def build_data_checks(config: PipelineConfig) -> list[AssetChecksDefinition]:
    schema = config.data_schema
    checks = planned_checks(schema)
    specs = [AssetCheckSpec(name, asset="raw_data", description=text, blocking=True) for name, text in checks.items()]

    @multi_asset_check(
        specs=specs,
        ins={"raw_data": "raw_data"},
        name="data_validation",
        description="The Great Expectations suite built from the config's schema.",
    )
    def data_validation(
        context: AssetCheckExecutionContext,
        raw_data: pd.DataFrame,
        validator: GreatExpectationsValidator,
        metrics: MetricsStore,
    ) -> Iterator[AssetCheckResult]:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        plan = plan_suite(schema, now)
        outcomes, docs = validator.validate(
            raw_data, plan, suite_name=f"{config.name}_raw_data", id_column=schema.id_column
        )
        if outcomes:  # DataQualityScore: the share of expectations met, in percent
            met = 100.0 * sum(o.success for o in outcomes) / len(outcomes)
            metrics.put(pipeline_namespace(config.name), DATA_QUALITY, met)
        for outcome in summarize(outcomes, list(checks)):
            if not outcome.passed:
                context.log.error(f"{outcome.check} failed: " + " | ".join(outcome.failures))
            metadata = {
                "rows_checked": len(raw_data),
                "failed_rows": outcome.failed_rows,
                "expectations": sum(1 for p in plan if p.check == outcome.check),
            }
            if outcome.failures:
                metadata["failures"] = MetadataValue.md("\n".join(f"- {f}" for f in outcome.failures))
            if outcome.examples:
                metadata["examples"] = MetadataValue.json(outcome.examples)
            if docs is not None:
                metadata["data_docs"] = MetadataValue.url(docs.page)
                metadata["data_docs_index"] = MetadataValue.url(docs.index)
            yield AssetCheckResult(
                asset_key="raw_data",
                check_name=outcome.check,
                passed=outcome.passed,
                severity=AssetCheckSeverity.ERROR,
                description="; ".join(outcome.failures) if outcome.failures else checks[outcome.check],
                metadata=metadata,
            )

    return [data_validation]
