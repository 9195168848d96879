"""Where models are trained: the child process through Pipes (end to end in test_pipeline.py) and the ECS task.

No container can run here, so the ECS engine is tested up to its request: the task definition of the algorithm,
the runs' network, the Pipes container's command, valid for ECS's API."""

import pytest

from ml_assets.config import parse_config
from ml_assets.resources.aws.compute import CONTAINER, EcsCompute
from ml_assets.resources.aws.session import AwsError
from ml_assets.resources.compute import TRAINING_COMMAND, SubprocessCompute, training_compute
from ml_assets_tests.aws_fixtures import REGION
from ml_assets_tests.conftest import small_fraud_raw

ECS_SETTINGS = {
    "ML_ASSETS_ECS_CLUSTER": "mla-test-production",
    "ML_ASSETS_TRAINING_TASK_PREFIX": "mla-test-production-train",
    "ML_ASSETS_TRAINING_SUBNETS": "subnet-1,subnet-2",
    "ML_ASSETS_TRAINING_SECURITY_GROUPS": "sg-1",
}


def ecs_config():
    aws = {"region": REGION, "traffic_log": "s3://data/traffic"}
    return parse_config(
        small_fraud_raw(
            training={"compute": "ecs"},
            deployment={"platform": "aws", "aws": aws, "analysis": {"expected_requests_per_second": 100}},
        )
    )


@pytest.mark.unit
def test_the_config_chooses_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(training_compute(parse_config(small_fraud_raw()), storage="/tmp/s"), SubprocessCompute)
    with pytest.raises(AwsError, match="ML_ASSETS_ECS_CLUSTER is not set"):
        training_compute(ecs_config(), storage="s3://data/assets")
    for key, value in ECS_SETTINGS.items():
        monkeypatch.setenv(key, value)
    engine = training_compute(ecs_config(), storage="s3://data/assets")
    assert isinstance(engine, EcsCompute) and engine.storage == "s3://data/assets"
    params = engine.run_task_params("random_forest")
    assert params["taskDefinition"] == "mla-test-production-train-random_forest"  # sized for the algorithm
    assert params["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-1", "subnet-2"]
    assert params["overrides"]["containerOverrides"] == [{"name": CONTAINER, "command": list(TRAINING_COMMAND)}]


@pytest.mark.unit
def test_the_run_task_request_is_valid_for_the_ecs_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore validates the request against ECS's API model (moto's RunTask cannot start an awsvpc task:
    its network interfaces lack a DNS name)."""
    import boto3
    from botocore.stub import Stubber

    for key, value in ECS_SETTINGS.items():
        monkeypatch.setenv(key, value)
    params = training_compute(ecs_config(), storage="s3://data/assets").run_task_params("xgboost")
    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stub:
        stub.add_response("run_task", {"tasks": [], "failures": []}, expected_params=params)
        assert ecs.run_task(**params) == {"tasks": [], "failures": []}
