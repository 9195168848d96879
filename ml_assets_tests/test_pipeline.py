"""End-to-end runs of the whole graph on the real Dagster instance, MLflow on SQLite and GE."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ml_assets.config import parse_config
from ml_assets.data.days import files_by_day, shift
from ml_assets.definitions import build_definitions
from ml_assets.deployment.plans import held_out_records
from ml_assets.features.build import feature_columns_of
from ml_assets.features.incremental import inputs_version
from ml_assets.reporting import pipeline_summary
from ml_assets.resources.http import http
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.settings import PACKAGE_DIR, Settings
from ml_assets.simulate import SimulationSpec, simulate_days
from ml_assets.simulate.sklearn_datasets import load_dataset
from ml_assets_tests.bad_data import CONTENT_CASES, corrupt, recent_transactions
from ml_assets_tests.conftest import deep_update, fast_deployment, raw_config, small_fraud_raw

pytestmark = pytest.mark.pipeline
ALGORITHMS = ("random_forest", "xgboost", "neural_network")


@dataclass
class Runs:
    """The runs one materialization takes: the days of the partitioned assets (one run over a range), then the
    unpartitioned rest, as `ml-assets materialize` does; read like one ExecuteInProcessResult."""

    results: list[ExecuteInProcessResult]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def all_events(self) -> list:
        return [e for r in self.results for e in r.all_events]

    def output_for_node(self, name: str) -> Any:
        for result in reversed(self.results):
            if name in {n.name for n in result.job_def.nodes_in_topological_order}:
                return result.output_for_node(name)
        raise KeyError(name)

    def get_asset_check_evaluations(self) -> list:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]


def landing_days(settings: Settings, raw: dict[str, Any]) -> tuple[str, str]:
    config = parse_config(raw)
    landing = LandingFolder(path=settings.resolve_location(config.dataset.landing_dir))
    days = sorted(files_by_day(item.name for item in landing.files()))
    return days[0], days[-1]


def run(settings: Settings, raw: dict[str, Any], selection: list[str] | None = None) -> Runs:
    config = parse_config(raw)
    defs = build_definitions(config, settings)
    instance = DagsterInstance.from_config(str(settings.home / "dagster"))
    results = []
    if config.partitioned and not selection:
        first, last = landing_days(settings, raw)
        days = defs.resolve_job_def("daily_data").execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        )
        results.append(days)
        if not days.success:
            return Runs(results)
    job = defs.resolve_job_def("retraining")
    if selection:
        job = job.get_subset(asset_selection={AssetKey(s) for s in selection})
    results.append(job.execute_in_process(instance=instance, raise_on_error=False))
    return Runs(results)


def registry(settings: Settings) -> MlflowRegistry:
    return MlflowRegistry(tracking_uri=settings.mlflow_tracking_uri, model_store=settings.model_store)


def registered_versions(settings: Settings, model_name: str) -> list[Any]:
    return registry(settings).client().search_model_versions(f"name='{model_name}'")


def write_simulated(settings: Settings, days: int = 40, customers: int = 300) -> None:
    start = dt.date.today() - dt.timedelta(days=days)
    spec = SimulationSpec(customers=customers, terminals=2 * customers, start=start, days=days, seed=42)
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    for date, frame in simulate_days(spec):
        landing.write(frame, f"transactions_{date:%Y-%m-%d}.parquet")


def check_results(result: Runs) -> dict[tuple[str, str], Any]:
    """Every check's evaluation but the dependency audit, which tests turn off ("not run", a warning); of a
    check evaluated per day, a failed day's evaluation if there is one."""
    evaluations: dict[tuple[str, str], Any] = {}
    for e in result.get_asset_check_evaluations():
        key = (e.asset_key.to_user_string(), e.check_name)
        if key not in evaluations or not e.passed:
            evaluations[key] = e
    audit = evaluations.pop(("security_scan", "dependency_audit"), None)
    assert audit is None or (not audit.passed and audit.severity.value == "WARN" and "not run" in audit.description)
    return evaluations


def held_out(result: Runs) -> list[dict]:
    training = result.output_for_node("training_data")
    return held_out_records(training, feature_columns_of(training), 5)


def failure_text(result: Runs, step: str) -> str:
    """The step's error message and the messages of its causes (Dagster wraps user errors)."""
    event = next(e for e in result.all_events if e.is_step_failure and e.step_key == step)
    error, parts = event.step_failure_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def materialized(result: Runs) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_fraud_graph_end_to_end(settings: Settings) -> None:
    write_simulated(settings)
    result = run(settings, small_fraud_raw())
    assert result.success
    assert materialized(result) == {
        "raw_data",
        "labels",
        "data_profile",
        "features",
        "training_data",
        "candidate_model",
        "security_scan",
        "staging_deployment",
        "production_deployment",
        *(f"{a}_model" for a in ALGORITHMS),
    }
    checks = check_results(result)
    # 7 data checks per day (loads and the suite; freshness is a policy), 8 per model, scan, staging, production
    assert len(checks) == 7 + 3 * 8 + 1 + 3 + 1 and all(c.passed for c in checks.values()), [
        k for k, c in checks.items() if not c.passed
    ]

    versions = registered_versions(settings, "fraud_detector")
    assert sorted(v.tags["algorithm"] for v in versions) == sorted(ALGORITHMS)
    training = result.output_for_node("training_data")
    window = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["training_data"]
    )
    days = window["partition_versions"].value
    split = parse_config(small_fraud_raw()).split
    assert len(days) == split.train_days + split.gap_days + split.test_days and window["skipped_days"].value == "none"
    assert training.attrs["data_version"] == inputs_version(days)  # the window's version: its days' versions
    # A range run gives each day its own figures, not the newest day's for all.
    figures = {
        asset: {
            e.partition: e.materialization.metadata
            for e in result.get_asset_materialization_events()
            if e.asset_key.path == [asset]
        }
        for asset in ("raw_data", "labels", "data_profile", "features")
    }
    rows = {day: m["dagster/row_count"].value for day, m in figures["raw_data"].items()}
    assert len(rows) > 1 and len(set(rows.values())) > 1
    for asset in ("labels", "data_profile", "features"):
        assert {day: m["dagster/row_count"].value for day, m in figures[asset].items()} == rows, asset
    assert all(
        day in m["source_file"].value and m["verdict"].value == "passed" for day, m in figures["raw_data"].items()
    )
    raw_days = figures["raw_data"].values()
    assert len({m["data_version"].value for m in raw_days}) == len(rows)  # each day's own records version
    assert len({m["newest_record"].value for m in raw_days}) == len(rows)
    label_days = figures["labels"].values()
    assert len({m["data_version"].value for m in label_days}) == len(rows)  # and its own labels version
    assert all("target_rate" in m and "positives" in m for m in label_days)
    assert "run_rows" in next(iter(raw_days)) and "features" in next(iter(figures["features"].values()))
    for version in versions:
        assert version.tags["gates"] == "passed"
        assert version.tags["data_version"] == training.attrs["data_version"]  # every model traces back to its days
        assert version.tags["code_version"] and len(version.tags["model_sha256"]) == 64
        run_data = registry(settings).client().get_run(version.run_id).data
        assert {"average_precision", "roc_auc", "card_precision", "precision", "recall"} <= set(run_data.metrics)
    artifacts = list((settings.mlflow_dir / "artifacts").rglob("*"))
    assert any(p.name == "model.skops" for p in artifacts) and any(p.name == "model.ubj" for p in artifacts)
    assert not any(p.suffix in (".pkl", ".pickle") for p in artifacts)  # no pickle anywhere

    candidate = result.output_for_node("candidate_model")
    best = max(
        (result.output_for_node(f"{a}_model") for a in ALGORITHMS), key=lambda m: m["metrics"]["average_precision"]
    )
    assert candidate["version"] == best["version"]
    assert registry(settings).version_for_alias("fraud_detector", "candidate") == best["version"]

    production = result.output_for_node("production_deployment")
    assert production["status"] == "promoted" and production["version"] == best["version"]
    assert registry(settings).version_for_alias("fraud_detector", "champion") == best["version"]
    status, answer = http("POST", f"{production['url']}/predict", held_out(result)[0])
    assert status == 200 and str(answer["version"]) == best["version"] and 0 <= answer["probability"] <= 1

    summary = pipeline_summary(parse_config(small_fraud_raw()), settings)
    assert f"candidate: fraud_detector v{best['version']}" in summary
    assert all(f"{a:<16}" in summary for a in ALGORITHMS) and "passed" in summary

    # The champion is compared on the same test data: itself scores the same, so within the margin it is accepted.
    registry(settings).set_alias("fraud_detector", "champion", best["version"])
    again = run(settings, small_fraud_raw(), ["candidate_model"])
    assert again.success
    assert again.output_for_node("candidate_model")["champion_score"] == pytest.approx(
        best["metrics"]["average_precision"]
    )


def test_no_model_passing_its_gates_moves_no_alias(settings: Settings) -> None:
    write_simulated(settings, days=30, customers=200)
    raw = small_fraud_raw(gates={"min_average_precision": 0.999}, split={"train_days": 7})
    result = run(settings, raw)
    assert not result.success
    message = failure_text(result, "candidate_model")
    assert "no candidate: no model passed its gates" in message and "failed performance" in message
    assert registry(settings).version_for_alias("fraud_detector", "candidate") is None
    assert {v.tags["gates"] for v in registered_versions(settings, "fraud_detector")} == {"failed"}


@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
def test_bad_content_stops_the_graph_before_training(settings: Settings, case: str) -> None:
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    days = recent_transactions(days=3)
    for index, (date, frame) in enumerate(days):
        bad = case == "stale" or index == 1
        landing.write(corrupt(frame, case) if bad else frame, f"transactions_{date}.parquet")
    # Freshness and the future are rules of the whole dataset: a day's records stay in their day (see below).
    partitioned = case not in ("stale", "future_timestamps")
    result = run(settings, small_fraud_raw() if partitioned else small_fraud_raw(dataset={"partitions": None}))
    assert not result.success
    check, text = CONTENT_CASES[case]
    failed = {k[1]: c for k, c in check_results(result).items() if not c.passed}
    assert set(failed) == {check}
    assert text in failed[check].description
    if partitioned:  # the bad day fails, named; the other days pass
        assert failed[check].partition == f"{days[1][0]}" and failed[check].description.startswith(f"day {days[1][0]}")
        verdicts = {e.partition for e in result.get_asset_check_evaluations() if e.check_name == check and e.passed}
        assert verdicts == {f"{days[0][0]}", f"{days[2][0]}"}
    assert materialized(result) == ({"raw_data", "labels"} if partitioned else {"raw_data", "security_scan"})
    assert registered_versions(settings, "fraud_detector") == []


def test_a_quarantined_day_blocks_only_what_reads_it(settings: Settings) -> None:
    raw = small_fraud_raw(split={"train_days": 7, "gap_days": 2, "test_days": 3})
    write_simulated(settings, days=14, customers=200)
    first, _ = landing_days(settings, raw)
    bad_day = shift(first, 10)
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    frame, _ = landing.read(f"transactions_{bad_day}.parquet")
    landing.write(corrupt(frame, "negative_amount"), f"transactions_{bad_day}.parquet")
    assert not run(settings, raw).success  # the range run: the day's blocking check fails
    defs = build_definitions(parse_config(raw), settings)
    daily = defs.resolve_job_def("daily_data")
    instance = DagsterInstance.from_config(str(settings.home / "dagster"))
    # A day before it has its features; a day whose windows read it builds nothing and names it.
    assert daily.execute_in_process(instance=instance, partition_key=shift(bad_day, -1), raise_on_error=False).success
    after = daily.execute_in_process(instance=instance, partition_key=shift(bad_day, 1), raise_on_error=False)
    assert not after.success
    message = failure_text(Runs([after]), "features")
    assert (
        f"day {bad_day} (transactions_{bad_day}.parquet) failed validation" in message and "values outside" in message
    )
    # Training refuses a window with the day in it, naming it, and one that reaches before the data; nothing is
    # registered.
    anchored = small_fraud_raw(split={"train_days": 7, "gap_days": 2, "test_days": 3, "train_start": first})
    training = run(settings, anchored, ["training_data"])
    assert not training.success
    assert f"day {bad_day} (transactions_{bad_day}.parquet) is quarantined" in failure_text(training, "training_data")
    newest = run(settings, raw, ["training_data"])  # ends on the newest featurized day, the day before the bad one
    assert f"reaches before the first day of data, {first}" in failure_text(newest, "training_data")
    assert registered_versions(settings, "fraud_detector") == []
    # The corrected file, re-run for its day, makes the day good again.
    landing.write(frame, f"transactions_{bad_day}.parquet")
    fixed = daily.execute_in_process(instance=instance, partition_key=bad_day, raise_on_error=False)
    assert fixed.success and all(e.passed for e in fixed.get_asset_check_evaluations())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("transactions_{day}.parquet", b"", "the file is empty"),
        ("transactions_{day}.csv", b"TRANSACTION_ID,TX_AMOUNT\n1,2,3\n", "not a valid CSV file"),
    ],
)
def test_unloadable_file_fails_raw_data_naming_the_file(
    settings: Settings, name: str, content: bytes, message: str
) -> None:
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    written = recent_transactions(days=2)
    for date, frame in written:
        landing.write(frame, f"transactions_{date}.parquet")
    name = name.format(day=written[0][0])
    (Path(landing.path) / f"transactions_{written[0][0]}.parquet").unlink()
    (Path(landing.path) / name).write_bytes(content)
    result = run(settings, small_fraud_raw())
    assert not result.success
    failed = {k[1]: c for k, c in check_results(result).items() if not c.passed}
    assert set(failed) == {"loads"} and f"{name}: {message}" in failed["loads"].description
    assert materialized(result) == {"raw_data", "labels"} and registered_versions(settings, "fraud_detector") == []


def test_breast_cancer_config_runs_the_same_graph(settings: Settings) -> None:
    raw = deep_update(raw_config(PACKAGE_DIR / "configs" / "breast_cancer.yaml"), {"deployment": fast_deployment()})
    LandingFolder(path=settings.resolve_location("landing/breast_cancer")).write(
        load_dataset("breast_cancer", "malignant", 0), "breast_cancer.csv"
    )
    result = run(settings, raw)
    assert result.success
    assert all(c.passed for c in check_results(result).values())
    candidate = result.output_for_node("candidate_model")
    assert candidate["algorithm"] in ALGORITHMS and candidate["score"] > 0.9
    assert registry(settings).version_for_alias("breast_cancer_classifier", "candidate") == candidate["version"]


def test_failed_release_keeps_the_champion(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_simulated(settings, days=30, customers=200)
    raw = small_fraud_raw(split={"train_days": 7})
    first = run(settings, raw)
    assert first.success
    champion = registry(settings).version_for_alias("fraud_detector", "champion")
    assert champion == first.output_for_node("production_deployment")["version"]
    # Every version the next run registers passes staging, then fails half its requests in production.
    chaos = {f"production:fraud_detector/{v}": {"error_rate": 0.5} for v in range(4, 7)}
    monkeypatch.setenv("ML_ASSETS_CHAOS", json.dumps(chaos))
    second = run(settings, raw)
    assert not second.success
    production = second.output_for_node("production_deployment")
    # Either the golden records already meet a failure (no traffic moves) or the first canary step's analysis does.
    assert production["status"] == "rolled_back"
    assert "golden records" in production["reason"] or "canary fails more often" in production["reason"]
    failed = {k[1]: c for k, c in check_results(second).items() if not c.passed}
    assert (
        set(failed) == {"release_succeeded"}
        and f"rolled back, v{champion} serves" in failed["release_succeeded"].description
    )
    assert registry(settings).version_for_alias("fraud_detector", "champion") == champion  # no alias moved
    status, answer = http("POST", f"{production['url']}/predict", held_out(second)[0])
    assert status == 200 and str(answer["version"]) == champion


@pytest.mark.parametrize("case", ["missing_day", "two_files", "outside_the_day"])
def test_a_day_without_one_file_of_its_own_records_is_refused_naming_it(settings: Settings, case: str) -> None:
    landing = LandingFolder(path=settings.resolve_location("landing/fraud"))
    written = recent_transactions(days=3)
    for date, frame in written:
        landing.write(frame, f"transactions_{date}.parquet")
    middle = f"{written[1][0]}"
    if case == "missing_day":
        (Path(landing.path) / f"transactions_{middle}.parquet").unlink()
        expected = [f"day {middle}: no landing file in {landing.path}"]
    elif case == "two_files":
        landing.write(written[1][1].head(5), f"corrections_{middle}.parquet")
        expected = [f"day {middle}: 2 landing files", f"corrections_{middle}.parquet", f"transactions_{middle}.parquet"]
    else:
        moved = written[1][1].copy()
        moved.loc[moved.index[:4], "TX_DATETIME"] += pd.Timedelta(days=1)
        landing.write(moved, f"transactions_{middle}.parquet")
        expected = [f"day {middle}: transactions_{middle}.parquet: 4 of", "records fall outside the day"]
    result = run(settings, small_fraud_raw())
    assert not result.success
    # The day is quarantined by its `loads` check, with the reason; the other days pass; nothing downstream runs.
    loads = {e.partition: e for e in result.get_asset_check_evaluations() if e.check_name == "loads"}
    assert not loads[middle].passed and all(text in loads[middle].description for text in expected), loads[middle]
    assert all(e.passed for day, e in loads.items() if day != middle) and len(loads) == 3
    assert materialized(result) == {"raw_data", "labels"}  # the days stored with their verdicts
    assert registered_versions(settings, "fraud_detector") == []
