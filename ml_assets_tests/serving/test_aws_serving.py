"""The model server's traffic log and CloudWatch metrics, golden records through the ALB, and the CLI on AWS."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from ml_assets.config import ConfigError, parse_config
from ml_assets.resources.aws.platform import AwsServingPlatform
from ml_assets.resources.aws.session import AwsError
from ml_assets.resources.platform import serving_platform
from ml_assets.rollout.backend import SLOT_HEADER, ModelRef
from ml_assets.rollout.evidence import ArmEvidence
from ml_assets.settings import DEFAULT_CONFIG
from ml_assets_tests.aws_fixtures import CREDENTIALS, PROJECT, REGION, TaskRegistrar, client, platform, provision
from ml_assets_tests.serving_fixtures import (
    as_records,
    free_port,
    home_env,
    ml_assets_command,
    register_models,
    request,
    running,
    serve_command,
    synthetic,
)


def server_env(tmp_path: Path, endpoint: str, slot: str, **extra: str) -> dict[str, str]:
    """A production model server's environment as the ECS task definition sets it, against moto."""
    return {
        **home_env(tmp_path),
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "ML_ASSETS_TRAFFIC_LOG": "s3://data/traffic",
        "ML_ASSETS_ENVIRONMENT": "production",
        "ML_ASSETS_SLOT": slot,
        **extra,
    }


def test_model_server_logs_every_request_that_the_release_analysis_reads(endpoint: str, tmp_path: Path) -> None:
    provision(endpoint)  # with the data bucket of the traffic log
    _, versions, _ = register_models(tmp_path)
    port = free_port()
    env = server_env(tmp_path, endpoint, "green", ML_ASSETS_CLOUDWATCH_NAMESPACE="MLAssets/Serving")
    uri = f"models:/test_xgboost/{versions['xgboost'].version}"
    command = [*serve_command(uri, port, variant="green"), "--metrics-flush-seconds", "0.5"]
    x, _ = synthetic(40, seed=3)
    started = time.time()
    with running(command, env, f"http://127.0.0.1:{port}/health"):
        url = f"http://127.0.0.1:{port}/predict"
        answers = [request(url, record)[0] for record in as_records(x)]
        answers += [request(url, {"f0": "not a number"})[0] for _ in range(3)]
        time.sleep(1.5)  # one flush
    # SIGTERM flushed the rest: every request is in the traffic log, one outcome each, 4xx included.
    assert answers.count(200) == 40 and answers.count(422) == 3
    backend = platform(endpoint, traffic_log="s3://data/traffic").backend("production")
    outcomes, cursor = backend.outcomes("green", started - 5)
    assert sorted(outcomes.status.tolist()) == [200] * 40 + [422] * 3
    evidence = ArmEvidence.of(outcomes)
    assert evidence.requests == 43 and evidence.failures == 3 == evidence.client_errors and evidence.scored == 40
    assert (outcomes.latency_ms > 0).all() and ((outcomes.score[:40] >= 0) & (outcomes.score[:40] <= 1)).all()
    again, _ = backend.outcomes("green", started - 5, cursor)
    assert len(again) == 0  # each outcome once, however often the analysis looks
    assert len(backend.outcomes("blue", started - 5)[0]) == 0
    # CloudWatch keeps the per-second metrics for alarms and dashboards.
    requests = backend.cloudwatch.series(
        {
            "requests": {
                "Metric": {
                    "Namespace": "MLAssets/Serving",
                    "MetricName": "Requests",
                    "Dimensions": [{"Name": "Environment", "Value": "production"}, {"Name": "Slot", "Value": "green"}],
                },
                "Period": 1,
                "Stat": "Sum",
            }
        },
        started - 5,
        time.time() + 5,
    )["requests"]
    assert requests.sum() == 43


def test_model_servers_write_a_traffic_sample_that_monitoring_drains(endpoint: str, tmp_path: Path) -> None:
    client("s3", endpoint).create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})
    _, versions, _ = register_models(tmp_path)
    port = free_port()
    env = server_env(tmp_path, endpoint, "blue")
    version = versions["xgboost"].version
    command = [
        *serve_command(f"models:/test_xgboost/{version}", port, variant="blue"),
        "--metrics-flush-seconds",
        "0.5",
    ]
    x, _ = synthetic(60, seed=4)
    with running(command, env, f"http://127.0.0.1:{port}/health"):
        url = f"http://127.0.0.1:{port}/predict"
        assert all(request(url, record)[0] == 200 for record in as_records(x)[:40])
        assert request(url, as_records(x)[40:])[0] == 200  # one request with 20 records
        assert request(url, {"f0": "bad"})[0] == 422  # not scored, not sampled
    backend = platform(endpoint, traffic_log="s3://data/traffic").backend("production")
    sample = backend.sample(drain=True)
    assert sample["seen"] == 60 and len(sample["items"]) == 60
    item = sample["items"][0]
    assert item["slot"] == "blue" and item["version"] == version and set(item["features"]) == set(x.columns)
    assert 0 <= item["score"] <= 1
    assert backend.sample(drain=True) == {"seen": 0, "items": []}  # drained: the next run sees only new traffic
    with pytest.raises(AwsError, match="no traffic log"):
        platform(endpoint, traffic_log=None).backend("production").sample()


def test_golden_records_are_scored_by_one_colour_through_the_alb(endpoint: str) -> None:
    """The listener rule that Terraform declares routes on the slot header; here a loopback server stands in
    for the ALB (moto routes no traffic) and records what reached it."""
    seen: list[tuple[str | None, str, list]] = []

    class Alb(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.headers.get(SLOT_HEADER), self.path, body))
            payload = json.dumps({"predictions": [{"probability": 0.5, "decision": False}] * len(body)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Alb)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = platform(endpoint, public_urls={"production": f"http://127.0.0.1:{server.server_port}"}).backend(
            "production"
        )
        status, answer = backend.score("green", [{"f0": 1.0}, {"f0": 2.0}])
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200 and len(answer["predictions"]) == 2
    assert seen == [("green", "/predict", [{"f0": 1.0}, {"f0": 2.0}])]


def aws_config(tmp_path: Path, endpoint: str, **deployment) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["deployment"] = {
        **raw["deployment"],
        "platform": "aws",
        "analysis": {**raw["deployment"]["analysis"], "expected_requests_per_second": 100},
        "aws": {
            "project": PROJECT,
            "region": REGION,
            "endpoint_url": endpoint,
            "poll_seconds": 0.05,
            "listener_port": 80,
            "traffic_log": "s3://data/traffic",
        },
        **deployment,
    }
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_config_alone_selects_the_aws_platform(endpoint: str, tmp_path: Path, settings) -> None:
    config = parse_config(yaml.safe_load(aws_config(tmp_path, endpoint).read_text()), "aws.yaml")
    chosen = serving_platform(settings, config)
    assert isinstance(chosen, AwsServingPlatform)
    assert chosen.ecs.endpoint_url == endpoint and chosen.project == PROJECT


@pytest.mark.unit
@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ({"canary": {"steps": [10, 50, 100], "shadow_percent": 5}}, "cannot mirror traffic"),
        ({"aws": {"project": PROJECT}}, "aws.traffic_log: the release analysis reads every request's outcome"),
        ({"analysis": {"alpha": 0.01}}, "expected_requests_per_second: on AWS the clients send the traffic"),
    ],
)
def test_aws_deployment_settings_that_cannot_work_are_refused(tmp_path: Path, deployment: dict, message: str) -> None:
    raw = yaml.safe_load(aws_config(tmp_path, "http://127.0.0.1:1", **deployment).read_text())
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "aws.yaml")


def test_status_shows_the_aws_environment(endpoint: str, tmp_path: Path) -> None:
    names = provision(endpoint)
    backend = platform(endpoint).backend("production")
    with TaskRegistrar(endpoint, names):
        backend.launch("blue", ModelRef("fraud_detector", "4"))
    env = {
        **os.environ,
        **CREDENTIALS,
        "ML_ASSETS_HOME": str(tmp_path),
        "ML_ASSETS_CONFIG": str(aws_config(tmp_path, endpoint)),
    }
    done = ml_assets_command("status", "--json", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    production = json.loads(done.stdout)["production"]
    assert production["url"].startswith("http://") and ":80" in production["url"]
    assert production["weights"] == {"blue": 100, "green": 0}
    assert production["variants"]["blue"]["version"] == "4"
    assert production["variants"]["blue"]["health"].endswith("running 2/2, targets {'healthy': 2}")
    assert "gateway" not in production
    staging = json.loads(done.stdout)["staging"]  # never applied: named, and production is still shown
    assert "load balancer 'mla-test-staging'" in staging["error"] and "LoadBalancerNotFound" in staging["error"]
    stopped = ml_assets_command("stop", env=env)
    assert stopped.returncode == 0 and "nothing runs on this machine" in stopped.stdout
