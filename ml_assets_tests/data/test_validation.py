import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ml_assets.config import PipelineConfig
from ml_assets.data.expectations import plan_suite, planned_checks, summarize
from ml_assets.data.schema import concat_sources, conform
from ml_assets.resources.reports import ReportStore
from ml_assets.resources.validation import GreatExpectationsValidator
from ml_assets_tests.bad_data import CONTENT_CASES, corrupt, recent_transactions

pytestmark = pytest.mark.unit


def _validate(frames: dict[str, pd.DataFrame], config: PipelineConfig, docs: Path):
    schema = config.data_schema
    raw = concat_sources([(name, conform(frame, schema, name)) for name, frame in frames.items()])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    outcomes, page = GreatExpectationsValidator(reports=ReportStore(location=str(docs))).validate(
        raw, plan_suite(schema, now), suite_name="t", id_column=schema.id_column
    )
    return {o.check: o for o in summarize(outcomes, list(planned_checks(schema)))}, page


@pytest.fixture(scope="module")
def days() -> list[tuple[dt.date, pd.DataFrame]]:
    return recent_transactions(days=3)


def test_clean_data_passes_every_check_and_keeps_data_docs(days, fraud_config: PipelineConfig, tmp_path: Path) -> None:
    checks, page = _validate({f"{d}.parquet": f for d, f in days}, fraud_config, tmp_path)
    assert set(checks) == {
        "columns_and_types",
        "completeness",
        "uniqueness",
        "value_ranges",
        "allowed_values",
        "freshness",
        "future_timestamps",
    }
    assert all(c.passed for c in checks.values()), {n: c.failures for n, c in checks.items() if not c.passed}
    assert (
        page is not None and page.page.endswith(".html") and page.index == (tmp_path / "data_docs/index.html").as_uri()
    )
    assert page.page.startswith((tmp_path / "data_docs/validations").as_uri())
    assert (tmp_path / page.page.removeprefix(tmp_path.as_uri() + "/")).is_file()


@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
def test_bad_content_fails_the_matching_check(days, fraud_config: PipelineConfig, tmp_path: Path, case: str) -> None:
    check, text = CONTENT_CASES[case]
    frames = {f"transactions_{d}.parquet": f for d, f in days}
    bad_name = f"transactions_{days[1][0]}.parquet"
    if case == "stale":
        frames = {name: corrupt(frame, case) for name, frame in frames.items()}
    else:
        frames[bad_name] = corrupt(frames[bad_name], case)
    checks, _ = _validate(frames, fraud_config, tmp_path)
    failed = {name for name, outcome in checks.items() if not outcome.passed}
    assert failed == {check}, {n: checks[n].failures for n in failed}
    message = " | ".join(checks[check].failures)
    assert text in message
    if case != "stale":
        assert bad_name in message  # the failure names the file the bad rows came from
        assert checks[check].examples and all("TRANSACTION_ID" in e for e in checks[check].examples)
