"""Training in an ECS task of its own (training.compute: ecs), started through dagster-aws's PipesECSClient.

Terraform registers one task definition per algorithm (``<prefix>-<algorithm>``, sized for it) and gives the run
tasks where to start them (the ML_ASSETS_ECS_CLUSTER, ..._TRAINING_* variables). The training process reports back
through its CloudWatch log stream, which the client reads.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetExecutionContext, PipesClientCompletedInvocation
from pydantic import Field

from ml_assets.config import PipelineConfig
from ml_assets.environment_variables import (
    ECS_CLUSTER,
    TRAINING_SECURITY_GROUPS,
    TRAINING_SUBNETS,
    TRAINING_TASK_PREFIX,
    EnvironmentVariable,
)
from ml_assets.resources.aws.session import AwsClientResource, AwsError
from ml_assets.resources.compute import TRAINING_COMMAND, TrainingCompute

CONTAINER = "training"  # the task definitions' container, as Terraform names it


def _required(variable: EnvironmentVariable) -> str:
    value = variable.get()
    if not value:
        raise AwsError(f"training.compute ecs: {variable.name} is not set ({variable.description}; Terraform sets it)")
    return value


class EcsCompute(TrainingCompute):
    """One Fargate task per algorithm, in the cluster and subnets of the runs."""

    aws: AwsClientResource
    cluster: str
    task_prefix: str
    subnets: list[str]
    security_groups: list[str]
    wait_seconds: float = Field(default=4 * 3600, description="How long a training task may take.")

    @classmethod
    def from_config(cls, config: PipelineConfig, *, storage: str) -> EcsCompute:
        aws = config.deployment.aws
        return cls(
            storage=storage,
            aws=AwsClientResource(region=aws.region, endpoint_url=aws.endpoint_url, max_attempts=aws.max_attempts),
            cluster=_required(ECS_CLUSTER),
            task_prefix=_required(TRAINING_TASK_PREFIX),
            subnets=_required(TRAINING_SUBNETS).split(","),
            security_groups=_required(TRAINING_SECURITY_GROUPS).split(","),
        )

    def run_task_params(self, algorithm: str) -> dict[str, Any]:
        """The RunTask request for ``algorithm``'s training task (the client adds the Pipes context)."""
        return {
            "cluster": self.cluster,
            "taskDefinition": f"{self.task_prefix}-{algorithm}",
            "launchType": "FARGATE",
            "count": 1,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": self.subnets,
                    "securityGroups": self.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {"containerOverrides": [{"name": CONTAINER, "command": list(TRAINING_COMMAND)}]},
            "tags": [{"key": "ml_assets/algorithm", "value": algorithm}],
        }

    def run(
        self, context: AssetExecutionContext, *, algorithm: str, extras: dict[str, Any]
    ) -> PipesClientCompletedInvocation:
        from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesECSClient
        from dagster_aws.pipes.clients.utils import WaiterConfig

        client = PipesECSClient(
            client=self.aws.client("ecs"),
            message_reader=PipesCloudWatchMessageReader(client=self.aws.client("logs")),
        )
        delay = 15
        return client.run(
            context=context,
            run_task_params=self.run_task_params(algorithm),
            extras=extras,
            pipes_container_name=CONTAINER,
            waiter_config=WaiterConfig(Delay=delay, MaxAttempts=int(self.wait_seconds // delay)),
        )
