"""Releases on AWS: the AWS serving platform against moto running as a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ml_assets.resources.aws.session import AwsError, _client
from ml_assets.rollout.backend import ModelRef
from ml_assets.rollout.clock import FakeClock
from ml_assets.rollout.engine import ReleasePlan, RolloutEngine
from ml_assets.rollout.state import PROMOTED, ROLLED_BACK, MemoryStateStore
from ml_assets_tests.aws_fixtures import (
    Behaviour,
    FaultProxy,
    TaskRegistrar,
    TrafficSimulator,
    client,
    platform,
    provision,
)
from ml_assets_tests.conftest import margins, release_plan
from ml_assets_tests.crashing import KINDS, Crash, DyingStore, every_transition

MODEL = "fraud_detector"
ANALYSIS = margins(error_rate_margin=0.05, latency_ratio_margin=1.5, score_ks_margin=0.3)


def plan(strategy: str, **overrides) -> ReleasePlan:
    settings = {
        "strategy": strategy,
        "steps": (10, 50, 100),
        "bake_seconds": 60,
        "max_bake_seconds": 600,
        "health_timeout_seconds": 5,
        "health_poll_seconds": 0.05,
        "analysis": ANALYSIS,
    }
    return release_plan(**{**settings, **overrides})


def engine_for(endpoint: str, strategy: str, simulator=None, store=None, **platform_settings) -> RolloutEngine:
    backend = platform(endpoint, **platform_settings).backend("production")
    clock = FakeClock(start=time.time() - 7200, on_sleep=simulator)
    return RolloutEngine(
        backend, store or MemoryStateStore(), clock=clock, plan=plan(strategy), environment="production"
    )


def services(endpoint: str, names) -> dict[str, int]:
    ecs = client("ecs", endpoint)
    return {
        slot: ecs.describe_services(cluster=names.cluster, services=[names.service(slot)])["services"][0][
            "desiredCount"
        ]
        for slot in ("blue", "green")
    }


def first_release(endpoint: str, names, store) -> None:
    with TaskRegistrar(endpoint, names):
        state = engine_for(endpoint, "canary", store=store).release(ModelRef(MODEL, "1"))
    assert state.status == PROMOTED and state.reason.startswith("first deployment")


@pytest.mark.parametrize("strategy", ["canary", "blue_green"])
def test_release_promotes_a_good_version_and_retires_the_old_colour(endpoint: str, strategy: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    simulator = TrafficSimulator(endpoint, names)
    engine = engine_for(endpoint, strategy, simulator, store)
    simulator(engine.clock.now() - 600, engine.clock.now())  # blue has been serving for ten minutes
    with TaskRegistrar(endpoint, names):
        state = engine.release(ModelRef(MODEL, "2"))

    assert state.status == PROMOTED, state.reason
    assert engine.backend.read_weights() == {"blue": 0, "green": 100}
    assert engine.backend.serving() == {"green": ModelRef(MODEL, "2")}
    assert services(endpoint, names) == {"blue": 0, "green": 2}
    analyses = [e for e in state.events if e["phase"].startswith("analysis:")]
    assert analyses and analyses[-1]["verdict"] == "pass"
    if strategy == "canary":
        applied = [e["weights"] for e in state.events if e["phase"] == "weights"]
        assert applied == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
        assert simulator.requests["green"] > 0 and simulator.requests["blue"] > 0
    # The new revision names the model version; the rest of Terraform's task definition is kept.
    ecs = client("ecs", endpoint)
    arn = ecs.describe_services(cluster=names.cluster, services=[names.service("green")])["services"][0][
        "taskDefinition"
    ]
    container = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["ML_ASSETS_MODEL_URI"] == f"models:/{MODEL}/2"
    assert environment["ML_ASSETS_SLOT"] == "green" and environment["ML_ASSETS_HOST"] == "0.0.0.0"
    assert environment["ML_ASSETS_MODEL_STORE"] == "s3://data/model-store"  # where the pipeline wrote the model
    # The release moved the scoring rule alone: every other path still gets the listener's 404.
    elbv2 = client("elbv2", endpoint)
    balancer = elbv2.describe_load_balancers(Names=[names.load_balancer])["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"][0]
    assert [a["Type"] for a in listener["DefaultActions"]] == ["fixed-response"]


def test_a_canary_with_errors_is_rolled_back_to_the_stable_colour(endpoint: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    simulator = TrafficSimulator(endpoint, names, behaviours={"2": Behaviour(error_rate=0.08)})
    engine = engine_for(endpoint, "canary", simulator, store)
    with TaskRegistrar(endpoint, names):
        state = engine.release(ModelRef(MODEL, "2"))

    assert state.status == ROLLED_BACK
    assert "canary fails more often" in state.reason
    assert engine.backend.read_weights() == {"blue": 100, "green": 0}
    assert engine.backend.serving() == {"blue": ModelRef(MODEL, "1")}
    assert services(endpoint, names) == {"blue": 2, "green": 0}


def test_throttling_is_retried_and_the_release_completes(endpoint: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    with FaultProxy(endpoint) as proxy:
        proxy.inject("ModifyRule", "throttle", "throttle", "throttle")
        proxy.inject("UpdateService", "throttle", "unavailable")
        proxy.inject("GetMetricData", "unavailable", "throttle")
        simulator = TrafficSimulator(endpoint, names)
        engine = engine_for(proxy.url, "canary", simulator, store, max_attempts=5)
        with TaskRegistrar(endpoint, names):
            state = engine.release(ModelRef(MODEL, "2"))

    assert state.status == PROMOTED, state.reason
    assert proxy.faults == {"ModifyRule": [], "UpdateService": [], "GetMetricData": []}  # all were served
    assert proxy.calls["ModifyRule"] >= 3 + 3  # three steps, three throttled attempts retried


def test_aws_failing_beyond_the_retries_rolls_back_and_names_the_service(endpoint: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    with FaultProxy(endpoint) as proxy:
        proxy.inject("UpdateService", *["unavailable"] * 3)
        engine = engine_for(proxy.url, "canary", TrafficSimulator(endpoint, names), store, max_attempts=3)
        with TaskRegistrar(endpoint, names), pytest.raises(AwsError) as raised:
            engine.release(ModelRef(MODEL, "2"))

    message = str(raised.value)
    assert "update_service" in message and names.service("green") in message and "3 attempts" in message
    assert store.load("production").status == ROLLED_BACK
    backend = platform(endpoint).backend("production")
    assert backend.read_weights() == {"blue": 100, "green": 0}
    assert backend.serving() == {"blue": ModelRef(MODEL, "1")}


def test_a_target_group_that_never_becomes_healthy_shifts_no_traffic(endpoint: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    engine = engine_for(endpoint, "canary", TrafficSimulator(endpoint, names), store, stabilize_timeout_seconds=0.5)
    with TaskRegistrar(endpoint, names, skip=("green",)), pytest.raises(AwsError) as raised:
        engine.release(ModelRef(MODEL, "2"))

    assert f"target group {names.target_group('green')!r}: 0 of 2 targets healthy" in str(raised.value)
    weights = [e["weights"] for e in store.load("production").events if e["phase"] == "weights"]
    assert weights == []  # never shifted, not even briefly
    assert engine.backend.read_weights() == {"blue": 100, "green": 0}
    assert services(endpoint, names) == {"blue": 2, "green": 0}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"project": "absent"}, "service 'absent-production-model-green' on cluster 'absent-production'"),
        ({"listener_port": 8443}, "has no listener on port 8443 (listeners on [80])"),
    ],
)
def test_missing_resources_are_named_and_nothing_changes(endpoint: str, settings: dict, expected: str) -> None:
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    engine = engine_for(endpoint, "canary", None, MemoryStateStore(), **settings)
    with pytest.raises(AwsError) as raised:
        engine.backend.launch("green", ModelRef(MODEL, "2"))
        engine.backend.set_weights({"blue": 50, "green": 50})
    assert expected in str(raised.value)
    assert platform(endpoint).backend("production").read_weights() == {"blue": 100, "green": 0}


def test_a_missing_target_group_is_named_before_anything_changes(endpoint: str) -> None:
    names = provision(endpoint)
    elbv2 = client("elbv2", endpoint)
    arn = elbv2.describe_target_groups(Names=[names.target_group("green")])["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.describe_listeners(
        LoadBalancerArn=elbv2.describe_load_balancers(Names=[names.load_balancer])["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
    )["Listeners"][0]
    rule = next(r for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if r["Priority"] == "100")
    blue = [g for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"] if g["TargetGroupArn"] != arn]
    elbv2.modify_rule(RuleArn=rule["RuleArn"], Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": blue}}])
    elbv2.delete_target_group(TargetGroupArn=arn)
    backend = platform(endpoint).backend("production")
    with pytest.raises(AwsError, match=names.target_group("green")):
        backend.launch("green", ModelRef(MODEL, "2"))
    assert services(endpoint, names) == {"blue": 0, "green": 0}


def test_wrong_region_and_missing_credentials_are_clear(endpoint: str, tmp_path: Path, monkeypatch) -> None:
    provision(endpoint)
    with pytest.raises(AwsError, match="unknown AWS region 'eu-wset-1'"):
        platform(endpoint).model_copy(
            update={"ecs": platform(endpoint).ecs.model_copy(update={"region": "eu-wset-1"})}
        ).backend("production").serving()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _client.cache_clear()
    with pytest.raises(AwsError, match="no AWS credentials found"):
        platform(endpoint).backend("production").serving()


def test_shadow_traffic_is_refused_on_an_alb(endpoint: str) -> None:
    backend = platform(endpoint).backend("production")
    backend.set_mirror(None, 0)  # stopping a mirror that cannot exist is fine
    with pytest.raises(AwsError, match="cannot mirror"):
        backend.set_mirror("green", 10)


def test_production_answers_after_a_run_killed_at_any_transition(endpoint: str) -> None:
    """Kill a release after every saved transition (see ``every_transition``); after each, the next run's
    reconcile leaves the listener forwarding only to a colour whose service runs with healthy targets."""
    names = provision(endpoint)
    store = MemoryStateStore()
    first_release(endpoint, names, store)
    outcomes: dict[str, set[str]] = {}
    for number, kill in enumerate(every_transition(outcomes)):
        simulator = TrafficSimulator(endpoint, names, seed=number)
        engine = engine_for(endpoint, "canary", simulator, DyingStore(store, kill))
        with TaskRegistrar(endpoint, names):
            try:
                done = engine.release(ModelRef(MODEL, str(number + 2)))
            except Crash:
                pass
            else:
                kill.completed = done.status == PROMOTED  # fewer transitions than n: every one has been killed
                continue
            reconciled = engine_for(endpoint, "canary", simulator, store).reconcile()  # the next run, first thing
            backend = platform(endpoint).backend("production")
            live = [slot for slot, weight in backend.read_weights().items() if weight]
            assert len(live) == 1 and backend.health(live[0]).healthy, (kill.at, reconciled.reason)
        assert services(endpoint, names)[live[0]] == 2
        outcomes.setdefault(kill.at, set()).add(reconciled.status)
    assert set(KINDS) <= set(outcomes), outcomes
    assert outcomes["passed"] == outcomes["retired"] == outcomes["promoted"] == {PROMOTED}
    undecided = ("started", "launched", "healthy", "weights", "analysis", "weights 100%")
    assert all(outcomes[kind] == {ROLLED_BACK} for kind in undecided), outcomes
