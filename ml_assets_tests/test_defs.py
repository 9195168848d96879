"""The code location loads, for every shipped config, with the graph users expect."""

import pytest
from dagster import AssetKey, Definitions

from ml_assets.config import load_config
from ml_assets.definitions import build_definitions
from ml_assets.settings import DEFAULT_CONFIG, PACKAGE_DIR, Settings

pytestmark = pytest.mark.unit

CONFIGS = [DEFAULT_CONFIG, PACKAGE_DIR / "configs" / "breast_cancer.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_definitions_load(path, settings: Settings) -> None:
    defs = build_definitions(load_config(path), settings)
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    labels = {"labels"} if path == DEFAULT_CONFIG else set()  # with daily partitions a day's labels are apart
    assert keys - labels == {
        "raw_data",
        "data_profile",
        "features",
        "training_data",
        "random_forest_model",
        "xgboost_model",
        "neural_network_model",
        "candidate_model",
        "security_scan",
        "staging_deployment",
        "production_deployment",
        "production_traffic",
        "drift_report",
        "pipeline_health",
    }
    assert graph.get(AssetKey("candidate_model")).parent_keys >= {
        AssetKey(f"{a}_model") for a in ("random_forest", "xgboost", "neural_network")
    }
    assert AssetKey("security_scan") in graph.get(AssetKey("staging_deployment")).parent_keys
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["raw_data"] == "data" and groups["features"] == "features" and groups["candidate_model"] == "training"
    owners = [*defs.asset_checks, *defs.assets]
    specs = {(s.asset_key.to_user_string(), s.name): s for c in owners for s in c.check_specs}
    assert all(spec.blocking for key, spec in specs.items() if key != ("drift_report", "drift"))
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    if path == DEFAULT_CONFIG:  # the days: one landing file, its checks, its profile and features per day
        assert partitioned == {"raw_data", "labels", "data_profile", "features"}
        assert graph.get(AssetKey("features")).parent_keys == {AssetKey("raw_data"), AssetKey("labels")}
        assert AssetKey("labels") in graph.get(AssetKey("training_data")).parent_keys
        assert all(spec.partitions_def is not None for key, spec in specs.items() if key[0] == "raw_data")
        assert {job.name for job in defs.jobs} == {"daily_data", "retraining", "monitoring"}
    else:
        assert partitioned == set() and {job.name for job in defs.jobs} == {"retraining", "monitoring"}
    sensors = {"landing_sensor", "drift_sensor", "failure_alert"}
    if path == DEFAULT_CONFIG:  # the days and retraining follow the conditions declared on the assets
        assert {s.name for s in defs.sensors} == sensors | {"days_automation", "retraining_automation"}
        assert defs.resolve_sensor_def("landing_sensor").job_name == "daily_data"
        conditions = {k.to_user_string(): graph.get(k).automation_condition for k in graph.get_all_asset_keys()}
        assert "retraining schedule 0 3 * * * UTC" in conditions["training_data"].get_label()
        assert "none failed its checks" in conditions["features"].get_label()
        assert "none failed its checks" in conditions["data_profile"].get_label()
        assert all(conditions[a] is not None for a in ("xgboost_model", "candidate_model", "production_deployment"))
        assert conditions["raw_data"] is None and conditions["labels"] is None  # the landing sensor
        assert conditions["drift_report"] is None  # the schedule
    else:
        assert {s.name for s in defs.sensors} == sensors
    (schedule,) = defs.schedules
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    # A day's checks: no freshness (an old day is history; the newest day's age is the freshness policy's)
    assert ("raw_data", "freshness") not in specs
    assert ("raw_data", "completeness") in specs
    assert {name for asset, name in specs if asset == "xgboost_model"} == {
        "loads",
        "prediction_shape_and_types",
        "probability_range",
        "stability",
        "feature_importance",
        "performance",
        "robustness",
        "cross_validation",
    }
    assert {name for asset, name in specs if asset == "security_scan"} == {"static_analysis", "dependency_audit"}


def test_module_loads_the_configured_file(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    import importlib

    import ml_assets.definitions as module

    monkeypatch.setenv("ML_ASSETS_CONFIG", str(CONFIGS[1]))
    reloaded = importlib.reload(module)
    assert "breast_cancer" in reloaded.defs().resources["landing"].path
    monkeypatch.delenv("ML_ASSETS_CONFIG")
    importlib.reload(module)


def test_the_catalog_shows_owners_kinds_versions_schema_and_freshness(settings: Settings) -> None:
    from ml_assets.config import parse_config
    from ml_assets_tests.conftest import deep_update, small_fraud_raw

    def graph_of(raw):
        return build_definitions(parse_config(raw), settings).resolve_asset_graph()

    raw = small_fraud_raw()
    graph = graph_of(raw)
    nodes = {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()}
    assert all(node.owners == ["team:fraud-ml"] for node in nodes.values())
    assert {"great_expectations", "parquet"} <= nodes["raw_data"].kinds and "xgboost" in nodes["xgboost_model"].kinds
    schema = nodes["raw_data"].metadata["dagster/column_schema"]
    amount = next(c for c in schema.columns if c.name == "TX_AMOUNT")
    assert amount.type == "float64" and amount.constraints.other == ["within [0.0, 100000.0]"]
    assert "TX_FRAUD" not in {c.name for c in schema.columns}  # with daily partitions the labels are apart
    labels = nodes["labels"].metadata["dagster/column_schema"]
    assert [(c.name, c.description) for c in labels.columns] == [
        ("TRANSACTION_ID", "record id"),
        ("TX_FRAUD", "target"),
    ]
    assert nodes["raw_data"].freshness_policy.fail_window.to_timedelta().days == 2  # schema.max_age_days
    assert nodes["production_deployment"].freshness_policy.fail_window.to_timedelta().days == 30
    # A code version follows the config sections its asset is computed from: new parameters for one algorithm
    # mark that model and the candidate stale, not the other models nor the data.
    changed = graph_of(deep_update(raw, {"algorithms": {"xgboost": {"params": {"max_depth": 5}}}}))
    versions = {key: nodes[key].code_version for key in nodes}
    after = {k.to_user_string(): changed.get(k).code_version for k in changed.get_all_asset_keys()}
    assert {key for key in versions if versions[key] != after[key]} == {"xgboost_model", "candidate_model"}
