"""AWS for the tests: moto running as a real HTTP server on 127.0.0.1, a fault-injecting proxy in front of it,
and stand-ins for the two parts of AWS that moto does not simulate.

moto stores ECS services and ALB listeners but runs no tasks and routes no traffic. Two stand-ins fill that gap,
in the tests only, and say so:
- ``TaskRegistrar`` plays the ECS agent: it registers a service's tasks into its target group (moto's services
  never do), so that the product's wait for healthy targets sees what real ECS would produce.
- ``TrafficSimulator`` plays the clients, the ALB and the tasks: for each simulated second it reads the listener
  weights from moto, splits the traffic accordingly and records it with the model server's own traffic log (in
  moto's S3, where the release analysis reads it), per model version with the behaviour the test gives it (error
  rate, latency, score shift).
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from ml_assets.resources.aws.alb import SCORING_RULE_PRIORITY, AlbResource
from ml_assets.resources.aws.cloudwatch import CloudWatchResource
from ml_assets.resources.aws.ecs import MODEL_URI_ENV, EcsResource, environment_of
from ml_assets.resources.aws.platform import AwsNames, AwsServingPlatform
from ml_assets.resources.local_platform import free_port
from ml_assets.resources.storage import open_store
from ml_assets.rollout.backend import SLOTS, ModelRef
from ml_assets.serving.traffic_log import TrafficLog

BIN = Path(sys.executable).parent
REGION = "eu-west-1"
PROJECT = "mla-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """``moto_server`` on a free loopback port; stopped on exit."""
    port = free_port()
    log = (log_dir / "moto.log").open("ab")
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start (log {log_dir / 'moto.log'})") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)


def client(service: str, endpoint: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


TRAFFIC_LOG = "s3://data/traffic"


def provision(endpoint: str, environment: str = "production", project: str = PROJECT) -> AwsNames:
    """What ``terraform apply`` creates for one environment, as far as a release touches it."""
    names = AwsNames(project, environment)
    ec2, elbv2, ecs = client("ec2", endpoint), client("elbv2", endpoint), client("ecs", endpoint)
    s3 = client("s3", endpoint)
    if "data" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName=f"{names.cluster}-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    balancer = elbv2.create_load_balancer(Name=names.load_balancer, Subnets=subnets, Type="application")
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    groups = {
        slot: elbv2.create_target_group(
            Name=names.target_group(slot),
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
        )["TargetGroups"][0]["TargetGroupArn"]
        for slot in SLOTS
    }
    # As terraform/modules/serving: a fixed 404 by default, scoring forwarded by weight through one rule.
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(
        ListenerArn=listener,
        Priority=int(SCORING_RULE_PRIORITY),
        Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/predict", "/invocations"]}},
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups["blue"], "Weight": 100},
                        {"TargetGroupArn": groups["green"], "Weight": 0},
                    ]
                },
            }
        ],
    )
    ecs.create_cluster(clusterName=names.cluster)
    family = f"{project}-{environment}-model-server"
    definition = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        executionRoleArn="arn:aws:iam::123456789012:role/execution",
        taskRoleArn="arn:aws:iam::123456789012:role/model-server",
        containerDefinitions=[
            {
                "name": "model-server",
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mla-test-model-server:1",
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "ML_ASSETS_HOST", "value": "0.0.0.0"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    for slot in SLOTS:
        ecs.create_service(
            cluster=names.cluster,
            serviceName=names.service(slot),
            taskDefinition=definition,
            desiredCount=0,
            launchType="FARGATE",
            loadBalancers=[{"targetGroupArn": groups[slot], "containerName": "model-server", "containerPort": 8080}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}},
        )
    return names


def platform(endpoint: str, max_attempts: int = 4, **overrides: Any) -> AwsServingPlatform:
    connection = {"region": REGION, "endpoint_url": endpoint, "max_attempts": max_attempts}
    settings = {
        "project": PROJECT,
        "listener_port": 80,  # moto's listener is plain HTTP (no certificate); Terraform's is HTTPS on 443
        "desired_count": 2,
        "stabilize_timeout_seconds": 5.0,
        "poll_seconds": 0.05,
        "traffic_log": TRAFFIC_LOG,
        "state_location": "s3://data/rollouts",
        "model_store": "s3://data/model-store",
        **overrides,
    }
    return AwsServingPlatform(
        ecs=EcsResource(**connection),
        alb=AlbResource(**connection),
        cloudwatch=CloudWatchResource(**connection),
        **settings,
    )


class TaskRegistrar:
    """Stand-in for the ECS agent: keeps each colour's target group registered with its service's running tasks."""

    def __init__(self, endpoint: str, names: AwsNames, skip: tuple[str, ...] = ()) -> None:
        self.ecs, self.elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
        self.names, self.skip = names, skip
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _sync(self) -> None:
        for slot in SLOTS:
            if slot in self.skip:
                continue
            service = self.ecs.describe_services(cluster=self.names.cluster, services=[self.names.service(slot)])
            running = service["services"][0]["runningCount"] if service["services"] else 0
            arn = self.elbv2.describe_target_groups(Names=[self.names.target_group(slot)])["TargetGroups"][0][
                "TargetGroupArn"
            ]
            registered = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            wanted = [{"Id": f"10.0.{SLOTS.index(slot)}.{10 + i}", "Port": 8080} for i in range(running)]
            if len(registered) != running:
                if registered:
                    self.elbv2.deregister_targets(TargetGroupArn=arn, Targets=[d["Target"] for d in registered])
                if wanted:
                    self.elbv2.register_targets(TargetGroupArn=arn, Targets=wanted)

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            self._sync()

    def __enter__(self) -> TaskRegistrar:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@dataclass(frozen=True)
class Behaviour:
    """How a model version behaves under traffic."""

    error_rate: float = 0.001
    latency_ms: float = 8.0
    score_shift: float = 0.0


class TrafficSimulator:
    """Stand-in for clients, the ALB and the tasks (see the module docstring); use as a FakeClock's ``on_sleep``."""

    def __init__(
        self,
        endpoint: str,
        names: AwsNames,
        rate: float = 60.0,
        behaviours: dict[str, Behaviour] | None = None,
        seed: int = 0,
    ) -> None:
        self.endpoint, self.names, self.rate = endpoint, names, rate
        self.behaviours = behaviours or {}
        self.rng = np.random.default_rng(seed)
        self.ecs, self.elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
        self.store = open_store(TRAFFIC_LOG)
        self.requests: dict[str, int] = {slot: 0 for slot in SLOTS}

    def _weights(self) -> dict[str, float]:
        balancer = self.elbv2.describe_load_balancers(Names=[self.names.load_balancer])["LoadBalancers"][0]
        listener = self.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"][0]
        rules = self.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        scoring = next(rule for rule in rules if rule["Priority"] == SCORING_RULE_PRIORITY)
        groups = scoring["Actions"][0]["ForwardConfig"]["TargetGroups"]
        by_name = {g["TargetGroupArn"].split("/")[1]: g.get("Weight", 0) for g in groups}
        total = sum(by_name.values()) or 1
        return {slot: by_name.get(self.names.target_group(slot), 0) / total for slot in SLOTS}

    def _version(self, slot: str) -> str | None:
        service = self.ecs.describe_services(cluster=self.names.cluster, services=[self.names.service(slot)])
        service = service["services"][0]
        if not service["desiredCount"]:
            return None
        definition = self.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        uri = environment_of(definition["containerDefinitions"][0]).get(MODEL_URI_ENV)
        return ModelRef.from_uri(uri).version if uri else None

    def __call__(self, before: float, after: float) -> None:
        weights = self._weights()
        for slot in SLOTS:
            version = self._version(slot)
            if not weights[slot] or version is None:
                continue
            behaviour = self.behaviours.get(version, Behaviour())
            now = [before]
            log = TrafficLog(
                self.store.write,
                environment=self.names.environment,
                slot=slot,
                version=version,
                clock=lambda now=now: now[0],
            )
            for second in range(int(before), int(after)):
                for _ in range(self.rng.poisson(self.rate * weights[slot])):
                    now[0] = second + self.rng.random()
                    failed = self.rng.random() < behaviour.error_rate
                    latency = behaviour.latency_ms * self.rng.lognormal(0, 0.3)
                    score = float(np.clip(self.rng.beta(1, 30) + behaviour.score_shift, 0, 1))
                    log.observe(503 if failed else 200, latency, None if failed else score)
                    self.requests[slot] += 1
            now[0] = after
            log.flush()


class FaultProxy:
    """An HTTP proxy in front of moto that answers chosen AWS actions with throttling or 5xx errors first."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy.action(self.headers, body, self.path)
                with proxy.lock:
                    proxy.calls[action] = proxy.calls.get(action, 0) + 1
                    planned = proxy.faults.get(action)
                    fault = planned.pop(0) if planned else None
                if fault is not None:
                    status, payload, content_type = proxy.error(fault, self.headers)
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def action(headers: Any, body: bytes, path: str) -> str:
        target = headers.get("X-Amz-Target")
        if target:  # JSON protocol (ECS)
            return target.rsplit(".", 1)[-1]
        if "/operation/" in path:  # RPC v2 CBOR (CloudWatch)
            return path.rsplit("/", 1)[-1]
        for pair in body.decode(errors="replace").split("&"):  # query protocol (ELBv2)
            if pair.startswith("Action="):
                return pair.removeprefix("Action=")
        return "?"

    @staticmethod
    def error(fault: str, headers: Any) -> tuple[int, bytes, str]:
        status, code = (400, "Throttling") if fault == "throttle" else (503, "ServiceUnavailable")
        if headers.get("X-Amz-Target"):
            code = "ThrottlingException" if fault == "throttle" else "ServerException"
            return status, json.dumps({"__type": code, "message": "injected by the test"}).encode(), "application/json"
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message>"
            "</Error><RequestId>test</RequestId></ErrorResponse>"
        )
        return status, xml.encode(), "text/xml"

    def inject(self, action: str, *faults: str) -> None:
        with self.lock:
            self.faults.setdefault(action, []).extend(faults)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def environ_without_credentials(tmp: Path) -> dict[str, str]:
    """An environment in which boto3 finds no credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"),
        AWS_CONFIG_FILE=str(tmp / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env
