from pathlib import Path

import pytest

from ml_assets.config import ConfigError, load_config, parse_config
from ml_assets.settings import DEFAULT_CONFIG, PACKAGE_DIR
from ml_assets_tests.conftest import small_fraud_raw, write_config

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path", [DEFAULT_CONFIG, PACKAGE_DIR / "configs" / "breast_cancer.yaml"])
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert set(config.algorithms) == {"random_forest", "xgboost", "neural_network"}
    assert config.data_schema.target in config.data_schema.columns


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"gates": {"min_roc_auc": 1.5}}, "gates.min_roc_auc", "less than or equal to 1"),
        ({"gates": {"min_rocauc": 0.5}}, "gates.min_rocauc", "Extra inputs are not permitted"),
        ({"algorithms": {"xgboost": {"kind": "lightgbm"}}}, "algorithms.xgboost.kind", "Input should be"),
        ({"schema": {"target": "LABEL"}}, "schema", "target 'LABEL' is not one of the schema's columns"),
        ({"split": {"method": "sideways"}}, "split", "does not match any of the expected tags"),
        (
            {"schema": {"columns": {"TX_AMOUNT": {"type": "float", "min": 10, "max": 1}}}},
            "schema.columns.TX_AMOUNT",
            "min (10.0) is greater than max",
        ),
        ({"algorithms": {"Bad Name": {"kind": "mlp"}}}, "<root>", "lower_snake_case"),
        ({"dataset": {"generator": {"customers": -5}}}, "dataset.generator.transactions.customers", "greater than 0"),
        ({"schema": {"id_column": None}}, "<root>", "daily partitions need schema.id_column"),
    ],
)
def test_invalid_config_names_the_key(change: dict, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(small_fraud_raw(**change), "fraud.yaml")
    text = str(error.value)
    assert "fraud.yaml" in text
    assert f"key '{key}" in text
    assert message in text


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = write_config(tmp_path, "just a string")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_a_config_extends_another_and_overrides_key_by_key(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {DEFAULT_CONFIG}\ndeployment:\n  bake_seconds: 42\n")
    config = load_config(child)
    base = load_config(DEFAULT_CONFIG)
    assert config.deployment.bake_seconds == 42
    assert config.deployment.canary == base.deployment.canary and config.algorithms == base.algorithms


def test_extends_loops_and_missing_parents_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"'extends' loops through .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: config file not found"):
        load_config(tmp_path / "c.yaml")


def test_a_release_plan_that_cannot_decide_is_refused_with_the_arithmetic() -> None:
    tight = {"canary": {"steps": [1, 50, 100]}, "max_bake_seconds": 300, "analysis": {"error_rate_margin": 0.005}}
    with pytest.raises(ConfigError) as error:
        parse_config(small_fraud_raw(deployment=tight), "fraud.yaml")
    text = str(error.value)
    assert "key 'deployment'" in text
    assert "at 1.2 requests/s to the canary (step 1% of 120 requests/s)" in text
    assert "showing the failure rate at most +0.50 points worse (stable 1.0%):" in text
    assert "the budget max_bake_seconds is 300 s: the release cannot reach a decision" in text
    assert "Raise the first step, the margin or the budget" in text
    # The same plan with the traffic to back it is accepted.
    more = {**tight, "analysis": {"error_rate_margin": 0.005, "expected_requests_per_second": 20_000}}
    assert parse_config(small_fraud_raw(deployment=more), "fraud.yaml").deployment.max_bake_seconds == 300


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ({"canary": {"steps": [5, 10, 25, 100]}}, "need one from 50 to 99: latency is judged where the canary"),
        ({"bake_seconds": 120, "max_bake_seconds": 60}, "bake_seconds (120) exceeds max_bake_seconds (60)"),
        ({"analysis": {"latency_ratio_margin": 0.9}}, "greater than 1"),
        ({"analysis": {"score_ks_margin": 1.5}}, "less than 1"),
    ],
)
def test_release_settings_that_cannot_work_are_refused(deployment: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(small_fraud_raw(deployment=deployment), "fraud.yaml")
