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
    assert keys == {
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
    specs = {(s.asset_key.to_user_string(), s.name): s for c in defs.asset_checks for s in c.check_specs}
    assert all(spec.blocking for key, spec in specs.items() if key != ("drift_report", "drift"))
    assert {job.name for job in defs.jobs} == {"retraining", "monitoring"}
    assert {s.name for s in defs.sensors} == {"landing_sensor", "drift_sensor", "failure_alert"}
    (schedule,) = defs.schedules
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    assert ("raw_data", "freshness") in specs or path != DEFAULT_CONFIG
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
