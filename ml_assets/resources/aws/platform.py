"""The AWS serving platform: per environment, a blue and a green ECS service behind one ALB listener.

Terraform owns the infrastructure (cluster, services, load balancer, target groups, the task definition of the
model server); a release only registers a task-definition revision that names the model version, scales a
colour's service, waits for ECS steady state and then for healthy targets (ECS being stable does not mean the
ALB routes to the new tasks), and moves the scoring rule's weights, reading them back after every change. The release
analysis reads what every request did from the servers' traffic log (per request, not per-second averages: a
change of the score distribution with the same mean stays visible); CloudWatch keeps the alarms and dashboards.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from ml_assets.environment_variables import ENVIRONMENT, MODEL_STORE, SLOT
from ml_assets.resources.aws.alb import AlbResource, metric_dimension
from ml_assets.resources.aws.cloudwatch import CloudWatchResource
from ml_assets.resources.aws.ecs import MODEL_URI_ENV, EcsResource, environment_of
from ml_assets.resources.aws.session import AwsError
from ml_assets.resources.http import http
from ml_assets.resources.platform import ServingPlatform
from ml_assets.rollout.backend import SLOT_HEADER, SLOTS, Health, ModelRef, ServingBackend
from ml_assets.rollout.evidence import NO_ANSWER, Outcomes
from ml_assets.rollout.state import StateStore
from ml_assets.serving.auth import client_headers

if TYPE_CHECKING:
    from ml_assets.config import PipelineConfig
    from ml_assets.settings import Settings

ALB_NAMESPACE = "AWS/ApplicationELB"


class AwsNames:
    """Resource names shared with Terraform (``terraform/modules/serving``): change both or neither."""

    def __init__(self, project: str, environment: str) -> None:
        self.project, self.environment = project, environment
        self.cluster = f"{project}-{environment}"
        self.load_balancer = f"{project}-{environment}"

    def service(self, slot: str) -> str:
        return f"{self.project}-{self.environment}-model-{slot}"

    def target_group(self, slot: str) -> str:
        return f"{self.project}-{self.environment}-{slot}"


class AwsBackend(ServingBackend):
    """One environment on AWS, as the release engine's ServingBackend."""

    def __init__(self, platform: AwsServingPlatform, environment: str, sleep=time.sleep) -> None:
        self.platform, self.environment, self.sleep = platform, environment, sleep
        self.names = AwsNames(platform.project, environment)
        self.ecs, self.alb, self.cloudwatch = platform.ecs, platform.alb, platform.cloudwatch

    # -- resolved once per backend -----------------------------------------------------------------------------

    @cached_property
    def load_balancer(self) -> dict[str, Any]:
        return self.alb.load_balancer(self.names.load_balancer)

    @cached_property
    def listener_arn(self) -> str:
        return self.alb.listener(self.load_balancer, self.platform.listener_port)["ListenerArn"]

    @cached_property
    def scoring_rule_arn(self) -> str:
        return self.alb.scoring_rule(self.listener_arn)

    @cached_property
    def target_groups(self) -> dict[str, dict[str, Any]]:
        groups = self.alb.target_groups([self.names.target_group(slot) for slot in SLOTS])
        return {slot: groups[self.names.target_group(slot)] for slot in SLOTS}

    @property
    def url(self) -> str:
        if self.environment in self.platform.public_urls:
            return self.platform.public_urls[self.environment].rstrip("/")
        scheme = "https" if self.platform.listener_port == 443 else "http"
        return f"{scheme}://{self.load_balancer['DNSName']}:{self.platform.listener_port}"

    # -- ServingBackend ----------------------------------------------------------------------------------------

    def launch(self, slot: str, model: ModelRef) -> None:
        service_name = self.names.service(slot)
        # Everything the release needs is resolved before anything changes: a missing piece fails cleanly.
        service = self.ecs.service(self.names.cluster, service_name)
        target_group = self.target_groups[slot]
        _ = self.scoring_rule_arn
        revision = self.ecs.register_revision(
            service["taskDefinition"],
            self.platform.container_name,
            {
                MODEL_URI_ENV: model.uri,
                SLOT.name: slot,
                ENVIRONMENT.name: self.environment,
                MODEL_STORE.name: self.platform.model_store,
            },
        )
        count = self.platform.desired_count
        self.ecs.update(self.names.cluster, service_name, desired_count=count, task_definition=revision)
        timeout, poll = self.platform.stabilize_timeout_seconds, self.platform.poll_seconds
        self.ecs.wait_stable(
            self.names.cluster, service_name, revision, timeout=timeout, interval=poll, sleep=self.sleep
        )
        self.alb.wait_healthy(target_group, count, timeout=timeout, interval=poll, sleep=self.sleep)

    def health(self, slot: str) -> Health:
        service = self.ecs.service(self.names.cluster, self.names.service(slot))
        states = self.alb.target_health(self.target_groups[slot])
        desired, running = service.get("desiredCount", 0), service.get("runningCount", 0)
        detail = f"{self.names.service(slot)}: running {running}/{desired}, targets {states or 'none'}"
        # Answering, not at full strength: a colour replacing one task still serves (and is where a rollback goes).
        healthy = desired > 0 and running > 0 and states.get("healthy", 0) >= 1
        return Health(healthy, detail)

    def serving(self) -> dict[str, ModelRef]:
        served = {}
        for slot in SLOTS:
            service = self.ecs.service(self.names.cluster, self.names.service(slot))
            if service.get("desiredCount", 0) == 0:
                continue
            definition = self.ecs.task_definition(service["taskDefinition"])
            for container in definition["containerDefinitions"]:
                if container["name"] == self.platform.container_name and MODEL_URI_ENV in environment_of(container):
                    served[slot] = ModelRef.from_uri(environment_of(container)[MODEL_URI_ENV])
        return served

    def set_weights(self, weights: dict[str, int]) -> None:
        unknown = set(weights) - set(SLOTS)
        if unknown:
            raise AwsError(f"unknown slots {sorted(unknown)}; expected {list(SLOTS)}")
        by_arn = {self.target_groups[slot]["TargetGroupArn"]: int(weights.get(slot, 0)) for slot in SLOTS}
        self.alb.set_weights(self.scoring_rule_arn, by_arn)

    def read_weights(self) -> dict[str, int]:
        slot_of = {group["TargetGroupArn"]: slot for slot, group in self.target_groups.items()}
        applied = self.alb.weights(self.scoring_rule_arn)
        strangers = {arn: weight for arn, weight in applied.items() if arn not in slot_of and weight}
        if strangers:
            raise AwsError(
                f"scoring rule {self.scoring_rule_arn} forwards to target groups outside blue/green: {strangers}"
            )
        total = sum(weight for arn, weight in applied.items() if arn in slot_of)
        if total == 0:
            return {}
        # ALB weights are relative (0-999); the engine thinks in percent.
        return {slot_of[arn]: round(100 * weight / total) for arn, weight in applied.items() if arn in slot_of}

    def set_mirror(self, slot: str | None, percent: int) -> None:
        if slot is not None and percent:
            raise AwsError("an Application Load Balancer cannot mirror traffic (deployment.canary.shadow_percent)")

    @cached_property
    def traffic_store(self) -> Any:
        from ml_assets.resources.storage import open_store

        if not self.platform.traffic_log:
            raise AwsError("no traffic log: set deployment.aws.traffic_log (the model servers' ML_ASSETS_TRAFFIC_LOG)")
        return open_store(self.platform.traffic_log)

    def outcomes(self, slot: str, since: float, cursor: Any = None) -> tuple[Outcomes, Any]:
        """Every request the slot's servers answered (their traffic log), plus the requests that reached no
        server: the ALB counts those (TargetConnectionErrorCount) and they count as failures."""
        from ml_assets.serving.traffic_log import read_outcomes

        read, unreachable_counted = cursor or (frozenset(), 0)
        answered, read = read_outcomes(self.traffic_store, self.environment, slot, since=since, read=read)
        unreachable = self._unreachable(slot, since)
        missing = max(0, unreachable - unreachable_counted)
        if missing:
            # The ALB counts them per minute, late: stamped at ``since``, so that they fall in every scope that
            # asks from there (the engine's clock and the ALB's need not agree).
            lost = Outcomes(
                at=np.full(missing, since),
                status=np.full(missing, NO_ANSWER),
                latency_ms=np.full(missing, np.nan),
                score=np.full(missing, np.nan),
            )
            answered = Outcomes.concat([answered, lost])
        return answered, (read, max(unreachable, unreachable_counted))

    def _unreachable(self, slot: str, since: float) -> int:
        group = self.target_groups[slot]
        dimensions = [
            {"Name": "LoadBalancer", "Value": metric_dimension(self.load_balancer["LoadBalancerArn"], "loadbalancer/")},
            {"Name": "TargetGroup", "Value": metric_dimension(group["TargetGroupArn"], "")},
        ]
        query = {
            "Metric": {
                "Namespace": ALB_NAMESPACE,
                "MetricName": "TargetConnectionErrorCount",
                "Dimensions": dimensions,
            },
            "Period": 60,
            "Stat": "Sum",
        }
        return int(self.cloudwatch.series({"unreachable": query}, since, time.time())["unreachable"].sum())

    def retire(self, slot: str) -> None:
        self.ecs.update(self.names.cluster, self.names.service(slot), desired_count=0)

    def sample(self, drain: bool = False) -> dict[str, Any]:
        """Scored records the model servers wrote to the traffic log since the last drain (as the local gateway's
        sample answers); ``drain`` moves the mark, so each monitoring run sees new traffic."""
        import json

        from ml_assets.serving.traffic_log import read_traffic

        store = self.traffic_store
        mark = f"{self.environment}/.drained"
        try:
            since = float(json.loads(store.read(mark))["at"])
        except FileNotFoundError:
            since = 0.0
        now = time.time()
        sample = read_traffic(store, self.environment, since)
        if drain:
            store.write(mark, json.dumps({"at": now}).encode())
        return sample

    def score(self, slot: str, records: list[dict]) -> tuple[int, Any]:
        """Score ``records`` on one colour through the ALB (a listener rule routes on the slot header)."""
        headers = {SLOT_HEADER: slot, **client_headers()}
        return http("POST", f"{self.url}/predict", records, timeout=30, headers=headers)


class AwsServingPlatform(ServingPlatform):
    """Model servers on ECS behind an ALB, metrics in CloudWatch; rollout state in the state folder or S3."""

    ecs: EcsResource
    alb: AlbResource
    cloudwatch: CloudWatchResource
    project: str
    listener_port: int
    desired_count: int
    stabilize_timeout_seconds: float
    poll_seconds: float
    traffic_log: str | None
    state_location: str
    model_store: str  # where this pipeline's training wrote the models: the servers read them there
    public_urls: dict[str, str] = Field(default_factory=dict)
    container_name: str = "model-server"  # the task definition's container, as Terraform names it

    @classmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> AwsServingPlatform:
        aws = config.deployment.aws
        connection = {"region": aws.region, "endpoint_url": aws.endpoint_url, "max_attempts": aws.max_attempts}
        return cls(
            ecs=EcsResource(**connection),
            alb=AlbResource(**connection),
            cloudwatch=CloudWatchResource(**connection),
            project=aws.project,
            listener_port=aws.listener_port,
            desired_count=aws.desired_count,
            stabilize_timeout_seconds=aws.stabilize_timeout_seconds,
            poll_seconds=aws.poll_seconds,
            public_urls=dict(aws.public_urls),
            traffic_log=settings.resolve_location(aws.traffic_log) if aws.traffic_log else None,
            state_location=settings.resolve_location(aws.state_location)
            if aws.state_location
            else str(settings.home / "rollouts"),
            model_store=settings.model_store,
        )

    def backend(self, environment: str) -> AwsBackend:
        return AwsBackend(self, environment)

    def live_backend(self, environment: str) -> AwsBackend:
        return self.backend(environment)

    def stop(self) -> str:
        return "nothing runs on this machine: on AWS, releases scale the ECS services (terraform owns them)"

    def state_store(self) -> StateStore:
        from ml_assets.resources.rollout_state import JsonStateStore

        return JsonStateStore(self.state_location)
