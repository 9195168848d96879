"""ECS: the model-server services (one per colour) and the task definitions they run."""

from __future__ import annotations

import time
from typing import Any

from ml_assets.environment_variables import MODEL_URI
from ml_assets.resources.aws.session import AwsClientResource, AwsError, poll

MODEL_URI_ENV = MODEL_URI.name  # the task definition's variable that names the model version
# What a new revision may copy from the one Terraform registered (everything but the read-only fields).
TASK_DEFINITION_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "ephemeralStorage",
    "pidMode",
    "ipcMode",
)


def set_environment(container: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The container definition with ``values`` set in its environment (others kept, order stable)."""
    environment = [item for item in container.get("environment", []) if item["name"] not in values]
    environment += [{"name": name, "value": value} for name, value in values.items()]
    return {**container, "environment": environment}


def environment_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("environment", [])}


class EcsResource(AwsClientResource):
    """Services on an ECS cluster: read them, roll a new task-definition revision, wait for steady state."""

    def service(self, cluster: str, name: str) -> dict[str, Any]:
        where = f"service {name!r} on cluster {cluster!r}"
        answer = self.call("ecs", "describe_services", where, cluster=cluster, services=[name])
        services = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            reasons = ", ".join(f.get("reason", "?") for f in answer.get("failures", [])) or "INACTIVE"
            raise AwsError(f"ECS {where} not found ({reasons}); was terraform applied for this environment?")
        return services[0]

    def task_definition(self, arn: str) -> dict[str, Any]:
        return self.call("ecs", "describe_task_definition", f"task definition {arn}", taskDefinition=arn)[
            "taskDefinition"
        ]

    def register_revision(self, base_arn: str, container_name: str, environment: dict[str, str]) -> str:
        """A new revision of ``base_arn`` whose container ``container_name`` has ``environment`` set."""
        base = self.task_definition(base_arn)
        names = [c["name"] for c in base["containerDefinitions"]]
        if container_name not in names:
            raise AwsError(f"task definition {base_arn} has no container {container_name!r} (has {names})")
        fields = {key: base[key] for key in TASK_DEFINITION_FIELDS if base.get(key) not in (None, [], {})}
        fields["containerDefinitions"] = [
            set_environment(c, environment) if c["name"] == container_name else c for c in base["containerDefinitions"]
        ]
        answer = self.call("ecs", "register_task_definition", f"task definition family {base['family']!r}", **fields)
        return answer["taskDefinition"]["taskDefinitionArn"]

    def update(self, cluster: str, name: str, *, desired_count: int, task_definition: str | None = None) -> None:
        kwargs: dict[str, Any] = {"cluster": cluster, "service": name, "desiredCount": desired_count}
        if task_definition:
            kwargs["taskDefinition"] = task_definition
        self.call("ecs", "update_service", f"service {name!r} on cluster {cluster!r}", **kwargs)

    def wait_stable(
        self, cluster: str, name: str, task_definition: str, *, timeout: float, interval: float, sleep=time.sleep
    ) -> dict[str, Any]:
        """Wait until the service runs only ``task_definition`` at its desired count (the deployment finished)."""

        def stable(service: dict[str, Any]) -> bool:
            # The PRIMARY deployment is the service's latest task definition; one deployment left means the old
            # tasks are gone, and COMPLETED that ECS (with its circuit breaker) considers the rollout done.
            deployments = service.get("deployments", [])
            return (
                service.get("taskDefinition") == task_definition
                and len(deployments) == 1
                and deployments[0].get("status", "PRIMARY") == "PRIMARY"
                and deployments[0].get("rolloutState", "COMPLETED") == "COMPLETED"
                and service.get("runningCount") == service.get("desiredCount")
            )

        done, service = poll(
            lambda: self.service(cluster, name), stable, timeout=timeout, interval=interval, sleep=sleep
        )
        if not done:
            deployments = [
                f"{d.get('status')} {d.get('taskDefinition', '?').rsplit('/', 1)[-1]} "
                f"running {d.get('runningCount')}/{d.get('desiredCount')} {d.get('rolloutState', '')}".strip()
                for d in service.get("deployments", [])
            ]
            raise AwsError(
                f"ECS service {name!r} on cluster {cluster!r} not stable after {timeout:g} s: "
                f"running {service.get('runningCount')}/{service.get('desiredCount')}, deployments {deployments}"
            )
        return service
