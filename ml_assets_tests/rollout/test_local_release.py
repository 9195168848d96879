"""Releases on the embedded platform with real processes: gateway and model servers on 127.0.0.1, replayed traffic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from xgboost import XGBClassifier

from ml_assets.resources.http import http
from ml_assets.resources.local_platform import LocalServingPlatform
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.resources.rollout_state import JsonStateStore
from ml_assets.rollout.backend import REPLAYED_HEADER, ModelRef
from ml_assets.rollout.clock import SystemClock
from ml_assets.rollout.engine import ReleasePlan, RolloutEngine
from ml_assets.rollout.state import PROMOTED, ROLLED_BACK
from ml_assets.serving.replay import BackgroundReplay
from ml_assets_tests.conftest import margins, release_plan
from ml_assets_tests.crashing import KINDS, Crash, DyingStore, every_transition
from ml_assets_tests.serving_fixtures import as_records, free_port, ml_assets_command, synthetic

pytestmark = pytest.mark.pipeline
NAME = "release_test"
# Wide margins, so that a good release shows them within a few looks of 120 requests/s, also on a loaded machine
# (latency spreads under load; the slow version below is 30x slower).
ANALYSIS = margins(error_rate_margin=0.1, latency_ratio_margin=4.0, score_ks_margin=0.35)
PLAN = release_plan(
    steps=(25, 50, 100), bake_seconds=2.0, max_bake_seconds=120, health_timeout_seconds=60, analysis=ANALYSIS
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("release")
    tracking = f"sqlite:///{home}/mlflow/mlflow.db"
    (home / "mlflow").mkdir()
    saved = {k: os.environ.get(k) for k in ("ML_ASSETS_HOME", "MLFLOW_TRACKING_URI", "ML_ASSETS_CHAOS")}
    os.environ.update({"ML_ASSETS_HOME": str(home), "MLFLOW_TRACKING_URI": tracking})
    registry = MlflowRegistry(
        tracking_uri=tracking, artifact_root=str(home / "mlflow" / "artifacts"), model_store=str(home / "model_store")
    )
    x, y = synthetic(3000)
    versions = {}
    for label, params in {
        "v1": {"random_state": 0},
        "v2": {"random_state": 1},
        "bad": {"random_state": 2},
        "slow": {"random_state": 3},
        "shifted": {"random_state": 4, "scale_pos_weight": 50},
    }.items():
        model = XGBClassifier(n_estimators=20, max_depth=3, **params).fit(x, y)
        registered = registry.log_model(
            experiment="release",
            run_name=label,
            model=model,
            registered_model_name=NAME,
            params={},
            metrics={},
            tags={},
            input_example=x.head(3),
        )
        versions[label] = ModelRef(NAME, registered.version)
    os.environ["ML_ASSETS_CHAOS"] = json.dumps(
        {
            f"{NAME}/{versions['bad'].version}": {"error_rate": 0.3},
            f"{NAME}/{versions['slow'].version}": {"delay_ms": 40},
        }
    )
    platform = LocalServingPlatform(
        home=str(home), host="127.0.0.1", staging_port=free_port(), production_port=free_port()
    )
    backend = platform.backend("production")
    store = JsonStateStore(home / "rollouts")
    records = as_records(synthetic(500, seed=11)[0])
    try:
        yield home, backend, store, versions, records
    finally:
        backend.stop_all()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def engine(backend, store, plan: ReleasePlan = PLAN) -> RolloutEngine:
    return RolloutEngine(backend, store, clock=SystemClock(), plan=plan, environment="production")


def ensure_stable(backend, store, versions) -> dict:
    """Tests may run alone: make sure some version serves 100% before a release."""
    if not backend.serving():
        assert engine(backend, store).release(versions["v1"]).status == PROMOTED
    return backend.serving()


def traffic(backend, records, seconds: float = 150) -> BackgroundReplay:
    # A generous client timeout: on a saturated 2-core machine a request may wait seconds for a connection, which
    # is the machine's load, not a request the release dropped (a refused or reset connection still fails at once).
    return BackgroundReplay(
        f"{backend.url}/predict", records, rate=120, max_seconds=seconds, max_requests=20_000, request_timeout=60
    )


def test_releases_end_to_end(world) -> None:
    _home, backend, store, versions, records = world
    first = engine(backend, store).release(versions["v1"])
    assert first.status == PROMOTED and backend.read_weights() == {"blue": 100}

    with traffic(backend, records) as load:
        good = engine(backend, store).release(versions["v2"])
    assert good.status == PROMOTED, good.reason
    steps = [e["weights"] for e in good.events if e["phase"] == "weights"]
    assert steps == [{"blue": 75, "green": 25}, {"blue": 50, "green": 50}, {"green": 100}]
    assert backend.serving() == {"green": versions["v2"]}
    assert load.result.failed == 0 and load.result.sent > 100

    for label, reason in (
        ("bad", "canary fails more often"),
        ("slow", "canary slower"),
        ("shifted", "predictions shifted"),
    ):
        with traffic(backend, records):
            state = engine(backend, store).release(versions[label])
        assert state.status == ROLLED_BACK and reason in state.reason, (label, state.reason)
        assert backend.read_weights() == {"green": 100} and backend.serving() == {"green": versions["v2"]}
    assert store.load("production").status == ROLLED_BACK

    sample = backend.sample()
    assert sample["seen"] > 100 and {"features", "score", "version", "slot"} <= set(sample["items"][0])


def test_killed_canary_rolls_back_without_client_errors(world) -> None:
    _, backend, store, versions, records = world
    stable_before = ensure_stable(backend, store, versions)
    slot = next(s for s in ("blue", "green") if s not in stable_before)
    plan = release_plan(
        steps=(50, 100), bake_seconds=3.0, max_bake_seconds=120, health_timeout_seconds=60, analysis=ANALYSIS
    )
    rollout = engine(backend, store, plan)

    def kill_canary(phase_slot: str) -> None:
        os.kill(int((backend.dir / f"{phase_slot}.pid").read_text()), signal.SIGKILL)

    original = rollout.backend.set_weights

    def set_weights_then_kill(weights: dict[str, int]) -> None:
        original(weights)
        if weights.get(slot) == 50:
            time.sleep(1.0)  # let some traffic reach the canary, then it dies
            kill_canary(slot)

    rollout.backend.set_weights = set_weights_then_kill
    try:
        with traffic(backend, records, seconds=25) as load:
            time.sleep(0.5)
            state = rollout.release(versions["v1"])
            time.sleep(1.0)
    finally:
        rollout.backend.set_weights = original
    assert state.status == ROLLED_BACK, state.reason
    assert backend.serving() == stable_before
    assert load.result.failed == 0, load.result.statuses  # the gateway retried on the stable slot
    assert "failed" in state.reason or "fails" in state.reason


def test_a_killed_deployment_run_is_reconciled(world, tmp_path: Path) -> None:
    home, backend, store, versions, _records = world
    stable_before = ensure_stable(backend, store, versions)
    script = tmp_path / "release.py"
    script.write_text(f"""
import sys
from ml_assets.resources.local_platform import LocalBackend
from ml_assets.resources.rollout_state import JsonStateStore
from ml_assets.rollout.backend import REPLAYED_HEADER, ModelRef
from ml_assets.rollout.clock import SystemClock
from ml_assets.rollout.engine import RolloutEngine
from ml_assets.config import DeploymentConfig
from dataclasses import replace
from pathlib import Path
backend = LocalBackend(Path({str(home)!r}), "production", host="127.0.0.1", port={backend.port})
plan = replace(DeploymentConfig().release_plan(), steps=(50, 100), bake_seconds=60.0)
RolloutEngine(
    backend, JsonStateStore(Path({str(home)!r}) / "rollouts"), clock=SystemClock(), plan=plan, environment="production"
).release(
    ModelRef({NAME!r}, {versions["v1"].version!r}))
""")
    process = subprocess.Popen([sys.executable, str(script)], env=os.environ.copy())
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = store.load("production")
        if state is not None and state.status == "running" and any(w == 50 for w in backend.read_weights().values()):
            break
        time.sleep(0.2)
    process.kill()
    process.wait(timeout=10)
    assert store.load("production").status == "running"
    reconciled = engine(backend, store).reconcile()
    assert reconciled.status == ROLLED_BACK and "reconciled" in reconciled.reason
    assert backend.serving() == stable_before and list(backend.read_weights().values()) == [100]


def test_production_answers_after_a_run_killed_at_any_transition(world) -> None:
    """Kill a release after every saved transition (see ``every_transition``); after each, the next run's reconcile
    leaves production answering from a running slot (a real request through the gateway)."""
    _, backend, store, versions, records = world
    ensure_stable(backend, store, versions)
    plan = release_plan(
        steps=(50, 100), bake_seconds=2.0, max_bake_seconds=120, health_timeout_seconds=60, analysis=ANALYSIS
    )
    outcomes: dict[str, set[str]] = {}
    for number, kill in enumerate(every_transition(outcomes)):
        version = versions["v2" if number % 2 else "v1"]
        with traffic(backend, records, seconds=150):
            try:
                done = engine(backend, DyingStore(store, kill), plan).release(version)
            except Crash:
                pass
            else:
                kill.completed = done.status == PROMOTED  # fewer transitions than n: every one has been killed
                continue
            reconciled = engine(backend, store).reconcile()  # what the next run does first
        weights = backend.read_weights()
        live = [slot for slot, weight in weights.items() if weight]
        assert len(live) == 1 and backend.health(live[0]).healthy, (kill.at, weights, reconciled.reason)
        status, _ = http("POST", f"{backend.url}/predict", records[0], timeout=10)
        assert status == 200, kill.at
        outcomes.setdefault(kill.at, set()).add(reconciled.status)
    assert set(KINDS) <= set(outcomes), outcomes
    # Once every step had passed, the promotion is finished rather than undone.
    assert outcomes["passed"] == outcomes["retired"] == outcomes["promoted"] == {"promoted"}
    undecided = ("started", "launched", "healthy", "weights", "analysis", "weights 100%")
    assert all(outcomes[kind] == {"rolled_back"} for kind in undecided), outcomes


def test_blue_green_switch_under_load_drops_no_request(world) -> None:
    _, backend, store, versions, records = world
    ensure_stable(backend, store, versions)
    plan = release_plan(
        strategy="blue_green", bake_seconds=2.0, max_bake_seconds=120, health_timeout_seconds=60, analysis=ANALYSIS
    )
    with traffic(backend, records, seconds=40) as load:
        time.sleep(8)  # the stable colour's traffic before the switch is the baseline
        state = engine(backend, store, plan).release(versions["v1"])
        time.sleep(1)
    assert state.status == PROMOTED, [(e["phase"], e.get("message"), e.get("reason")) for e in state.events]
    assert load.result.failed == 0 and load.result.sent > 300, load.result.statuses


def test_status_and_stop(world) -> None:
    home, backend, store, versions, _ = world
    ensure_stable(backend, store, versions)
    env = {**os.environ, "ML_ASSETS_HOME": str(home)}
    status = ml_assets_command("status", "--json", env=env, timeout=60)
    assert status.returncode == 0, status.stderr
    production = json.loads(status.stdout)["production"]
    assert production["gateway"] == "running" and sum(production["weights"].values()) == 100
    slot = next(iter(production["weights"]))
    assert production["variants"][slot]["health"].startswith(f"{NAME} v")
    assert production["rollout"]["status"] in ("promoted", "rolled_back")
    stopped = ml_assets_command("stop", env=env)
    assert stopped.returncode == 0 and not backend.gateway_running()
    assert not list(backend.dir.glob("*.pid"))


def test_replayed_release_traffic_is_evidence_but_not_monitored_traffic(world) -> None:
    _, backend, store, versions, records = world
    ensure_stable(backend, store, versions)
    slot = next(slot for slot, weight in backend.read_weights().items() if weight)
    started = time.time()
    seen = backend.sample()["seen"]
    for record in records[:5]:
        assert (
            http("POST", f"{backend.url}/predict", record, timeout=10, headers={REPLAYED_HEADER: "release"})[0] == 200
        )
    for record in records[:3]:
        assert http("POST", f"{backend.url}/predict", record, timeout=10)[0] == 200
    assert http("POST", f"{backend.url}/predict", {"not_a_feature": 1.0}, timeout=10)[0] == 422
    outcomes, _ = backend.outcomes(slot, started)
    assert sorted(outcomes.status.tolist()) == [200] * 8 + [422]  # every answer is release evidence, 4xx included
    assert (outcomes.latency_ms[outcomes.status == 200] < 1000).all()  # the server's own time (Server-Timing)
    assert backend.sample()["seen"] == seen + 3  # the release's replay is not clients' traffic


@pytest.mark.pipeline
def test_one_release_at_a_time_whoever_starts_it(settings, tmp_path) -> None:
    """Staging and production take the release pool; the local instance gives it one slot, so a release waits
    while another holds it (the production instance, deploy/dagster.yaml, sets the same limit)."""
    import threading

    import yaml
    from dagster import DagsterInstance, asset, materialize

    from ml_assets.config import load_config
    from ml_assets.definitions import build_definitions
    from ml_assets.settings import DEFAULT_CONFIG, PACKAGE_DIR

    defs = build_definitions(load_config(DEFAULT_CONFIG), settings)
    graph = defs.resolve_asset_graph()
    pools = {k.to_user_string(): graph.get(k).pools for k in graph.get_all_asset_keys()}
    assert pools["staging_deployment"] == pools["production_deployment"] == {"release"}
    assert all(not p for k, p in pools.items() if k not in ("staging_deployment", "production_deployment"))
    for path in (PACKAGE_DIR / "instance.yaml", PACKAGE_DIR.parent / "deploy" / "dagster.yaml"):
        assert yaml.safe_load(path.read_text())["concurrency"]["pools"]["default_limit"] == 1

    # the shipped instance, without capturing the run's stdout through `tail -F` processes: the one CI run where this
    # test timed out left its tails running, and the capture is no part of what the pool decides
    no_capture = (
        "compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n  class: NoOpComputeLogManager\n"
    )
    (tmp_path / "dagster.yaml").write_text((PACKAGE_DIR / "instance.yaml").read_text() + no_capture)
    instance = DagsterInstance.from_config(str(tmp_path))
    finished = threading.Event()

    @asset(pool="release")
    def release() -> int:
        return 1

    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("release")
    storage.claim_concurrency_slot("release", "another-release-run", "production_deployment")
    worker = threading.Thread(
        target=lambda: (materialize([release], instance=instance), finished.set()), daemon=True
    )  # a daemon: should the run never end, the failure below is reported and the suite still exits
    worker.start()
    assert not finished.wait(5)  # waits for the slot another release holds
    storage.free_concurrency_slots_for_run("another-release-run")
    # generous: one CI run on the loaded 2-core machine took over 60 s to end the run after the step succeeded
    assert finished.wait(180)
    worker.join(5)
