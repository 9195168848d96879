"""The validation suite, derived from the config's declarative schema (a plan; GE runs it in a resource).

Each expectation belongs to one named check, so Dagster shows one blocking check per kind of problem.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import Any

from ml_assets.config import SchemaConfig
from ml_assets.data.schema import PANDAS_DTYPES, SOURCE_FILE_COLUMN

CHECKS: dict[str, str] = {
    "columns_and_types": "The data has exactly the schema's columns, each of its declared type.",
    "completeness": "No missing values (null or NaN) in columns that are not nullable.",
    "uniqueness": "Unique columns (the record id) have no duplicates.",
    "value_ranges": "Numbers are finite and within the schema's min/max (no negative amounts, no inf).",
    "allowed_values": "Categorical columns (the label among them) hold only their allowed values.",
    "freshness": "The newest record is recent enough.",
    "future_timestamps": "No record is time-stamped in the future.",
}

_TYPE_LISTS = {
    "int": ["Int64Dtype", "int64"],
    "float": ["float64"],
    "datetime": ["datetime64[ns]"],
    "string": ["StringDtype", "object"],
    "bool": ["BooleanDtype", "bool"],
}
assert set(_TYPE_LISTS) == set(PANDAS_DTYPES)


@dataclass(frozen=True)
class PlannedExpectation:
    check: str
    expectation: str  # class name in great_expectations.expectations
    kwargs: dict[str, Any] = field(default_factory=dict)


def plan_suite(schema: SchemaConfig, now: dt.datetime, *, freshness: bool = True) -> list[PlannedExpectation]:
    """Expectations for every rule in the schema; ``now`` (naive UTC) anchors freshness and the future.

    ``freshness=False`` for one day of a partitioned dataset: an old day is not stale, it is history (the
    newest day's age is the raw data's freshness policy instead)."""
    plan = [
        PlannedExpectation(
            "columns_and_types",
            "ExpectTableColumnsToMatchSet",
            {"column_set": [*schema.columns, SOURCE_FILE_COLUMN], "exact_match": True},
        )
    ]
    for name, spec in schema.columns.items():
        plan.append(
            PlannedExpectation(
                "columns_and_types",
                "ExpectColumnValuesToBeInTypeList",
                {"column": name, "type_list": _TYPE_LISTS[spec.type]},
            )
        )
        if not spec.nullable:
            plan.append(PlannedExpectation("completeness", "ExpectColumnValuesToNotBeNull", {"column": name}))
        if spec.unique:
            plan.append(PlannedExpectation("uniqueness", "ExpectColumnValuesToBeUnique", {"column": name}))
        if spec.type in ("int", "float"):
            low = spec.min if spec.min is not None else -sys.float_info.max
            high = spec.max if spec.max is not None else sys.float_info.max
            plan.append(
                PlannedExpectation(
                    "value_ranges",
                    "ExpectColumnValuesToBeBetween",
                    {"column": name, "min_value": low, "max_value": high},
                )
            )
        if spec.allowed is not None:
            plan.append(
                PlannedExpectation(
                    "allowed_values", "ExpectColumnValuesToBeInSet", {"column": name, "value_set": list(spec.allowed)}
                )
            )
    if schema.timestamp_column:
        ts = schema.timestamp_column
        if freshness and schema.max_age_days is not None:
            oldest_allowed = now - dt.timedelta(days=schema.max_age_days)
            plan.append(
                PlannedExpectation(
                    "freshness", "ExpectColumnMaxToBeBetween", {"column": ts, "min_value": oldest_allowed}
                )
            )
        latest_allowed = now + dt.timedelta(minutes=schema.max_future_minutes)
        plan.append(
            PlannedExpectation(
                "future_timestamps", "ExpectColumnValuesToBeBetween", {"column": ts, "max_value": latest_allowed}
            )
        )
    return plan


def planned_checks(schema: SchemaConfig, *, freshness: bool = True) -> dict[str, str]:
    """The checks this schema produces, with their descriptions (stable across runs: defines the asset checks)."""
    names = {p.check for p in plan_suite(schema, dt.datetime(2000, 1, 1), freshness=freshness)}
    return {name: text for name, text in CHECKS.items() if name in names}


@dataclass(frozen=True)
class ExpectationOutcome:
    planned: PlannedExpectation
    success: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class CheckOutcome:
    check: str
    passed: bool
    failures: list[str]
    failed_rows: int
    examples: list[dict[str, Any]]


def _describe(planned: PlannedExpectation) -> str:
    kw = planned.kwargs
    column = kw.get("column")
    match planned.expectation:
        case "ExpectTableColumnsToMatchSet":
            return "columns do not match the schema"
        case "ExpectColumnValuesToBeInTypeList":
            return f"{column}: not of type {kw['type_list'][0].removesuffix('Dtype')}"
        case "ExpectColumnValuesToNotBeNull":
            return f"{column}: missing values (null/NaN)"
        case "ExpectColumnValuesToBeUnique":
            return f"{column}: duplicate values"
        case "ExpectColumnValuesToBeBetween" if planned.check == "future_timestamps":
            return f"{column}: timestamps after {kw['max_value']:%Y-%m-%d %H:%M} UTC (in the future)"
        case "ExpectColumnValuesToBeBetween":
            return f"{column}: values outside [{kw['min_value']:g}, {kw['max_value']:g}] or not finite"
        case "ExpectColumnValuesToBeInSet":
            return f"{column}: values outside the allowed set {kw['value_set']}"
        case "ExpectColumnMaxToBeBetween":
            return f"{column}: newest record older than {kw['min_value']:%Y-%m-%d %H:%M} UTC (stale data)"
    return f"{planned.expectation} {kw}"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def summarize(outcomes: list[ExpectationOutcome], checks: list[str]) -> list[CheckOutcome]:
    """Group expectation outcomes into checks, each failure naming the column, the count and the files."""
    summaries = []
    for check in checks:
        failures: list[str] = []
        failed_rows = 0
        examples: list[dict[str, Any]] = []
        for outcome in (o for o in outcomes if o.planned.check == check and not o.success):
            result = outcome.result
            message = _describe(outcome.planned)
            count = result.get("unexpected_count")
            if count is not None:
                failed_rows += int(count)
                share = result.get("unexpected_percent") or 0.0
                rows = [
                    {k: _jsonable(v) for k, v in row.items()}
                    for row in result.get("partial_unexpected_index_list") or []
                ]
                files = sorted({r[SOURCE_FILE_COLUMN] for r in rows if SOURCE_FILE_COLUMN in r})
                message += f": {count} rows ({share:.3g}%)"
                values = [_jsonable(v) for v in (result.get("partial_unexpected_list") or [])[:5]]
                if values:
                    message += f", e.g. {values}"
                if files:
                    message += f" in {', '.join(files)}"
                examples.extend(rows[:5])
            elif "observed_value" in result:
                message += f" (observed {_jsonable(result['observed_value'])})"
            if outcome.planned.expectation == "ExpectTableColumnsToMatchSet":
                details = result.get("details", {}).get("mismatched", {})
                message += f": {details}" if details else ""
            failures.append(message)
        summaries.append(CheckOutcome(check, not failures, failures, failed_rows, examples[:20]))
    return summaries
