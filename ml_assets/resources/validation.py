"""Great Expectations 1.x behind a Dagster resource: run a planned suite on a DataFrame, keep Data Docs."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from ml_assets.data.expectations import ExpectationOutcome, PlannedExpectation
from ml_assets.data.schema import SOURCE_FILE_COLUMN
from ml_assets.environment_variables import GX_ANALYTICS
from ml_assets.resources.reports import ReportStore

DATA_DOCS = "data_docs"


@dataclass(frozen=True)
class DataDocs:
    """Links to the Data Docs of one validation: its page and the site's index."""

    page: str
    index: str


class GreatExpectationsValidator(ConfigurableResource):
    """Runs expectation suites with an ephemeral GE context. GE builds the Data Docs site in a scratch folder;
    the report store keeps it (``data_docs/``), so it survives the machine or task that ran the validation.
    Each validation's page stays; the index lists the newest validation."""

    reports: ReportStore
    examples_per_expectation: int = 10

    def validate(
        self, frame: pd.DataFrame, plan: list[PlannedExpectation], *, suite_name: str, id_column: str | None
    ) -> tuple[list[ExpectationOutcome], DataDocs | None]:
        with tempfile.TemporaryDirectory(prefix="data_docs-") as scratch:
            outcomes, page = self._run(frame, plan, suite_name=suite_name, id_column=id_column, docs_dir=Path(scratch))
            if page is None:
                return outcomes, None
            self.reports.write_folder(DATA_DOCS, Path(scratch))
            relative = page.relative_to(scratch).as_posix()
            docs = DataDocs(self.reports.link(f"{DATA_DOCS}/{relative}"), self.reports.link(f"{DATA_DOCS}/index.html"))
        return outcomes, docs

    def _run(
        self,
        frame: pd.DataFrame,
        plan: list[PlannedExpectation],
        *,
        suite_name: str,
        id_column: str | None,
        docs_dir: Path,
    ) -> tuple[list[ExpectationOutcome], Path | None]:
        GX_ANALYTICS.set_default()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.add_data_docs_site(
            "local",
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        batch = (
            context.data_sources.add_pandas("landing")
            .add_dataframe_asset(suite_name)
            .add_batch_definition_whole_dataframe("all_files")
        )
        suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
        expectations = []
        for planned in plan:
            expectation = getattr(gx.expectations, planned.expectation)(**planned.kwargs, meta={"check": planned.check})
            expectations.append(suite.add_expectation(expectation))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        index_columns = [c for c in (id_column, SOURCE_FILE_COLUMN) if c and c in frame.columns]
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{suite_name}_checkpoint",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": index_columns,
                    "partial_unexpected_count": self.examples_per_expectation,
                },
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        by_id = {e.id: p for e, p in zip(expectations, plan, strict=True)}
        outcomes = []
        for run_result in result.run_results.values():
            for item in run_result.results:
                planned = by_id[item.expectation_config.id]
                outcomes.append(ExpectationOutcome(planned, bool(item.success), dict(item.result or {})))
        docs = sorted(docs_dir.glob("validations/**/*.html"), key=lambda p: p.stat().st_mtime)
        return outcomes, docs[-1] if docs else None
