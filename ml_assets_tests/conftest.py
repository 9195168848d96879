"""Shared fixtures: small configs, a private state folder per test, landing data from the simulator."""

from __future__ import annotations

import _posixsubprocess
import copy
import datetime as dt
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml_assets.config import DeploymentConfig, PipelineConfig, parse_config
from ml_assets.rollout.analysis import AnalysisMargins
from ml_assets.rollout.engine import ReleasePlan
from ml_assets.settings import DEFAULT_CONFIG, PACKAGE_DIR, Settings, load_settings

SMALL_FRAUD = {
    "dataset": {"generator": {"customers": 300, "terminals": 600, "days": 40}},
    "split": {"train_days": 14, "gap_days": 7, "test_days": 7},
    "algorithms": {
        "random_forest": {"params": {"n_estimators": 30, "max_depth": 10, "n_jobs": 1, "random_state": 0}},
        "xgboost": {
            "params": {"n_estimators": 30, "max_depth": 3, "learning_rate": 0.3, "n_jobs": 1, "random_state": 0}
        },
        "neural_network": {"params": {"hidden_layer_sizes": [16], "max_iter": 60, "random_state": 0}},
    },
    "gates": {
        "min_average_precision": 0.2,
        "min_roc_auc": 0.6,
        "min_precision": 0.1,
        "min_recall": 0.05,
        "min_cv_average_precision": 0.1,
        "max_cv_std": 0.3,
        "cv_max_rows": 4000,
        "min_noise_agreement": 0.9,
    },
}


AWS_FIXTURES = {"moto", "endpoint"}
LANES = ("unit", "pipeline", "aws", "terraform", "browser", "bench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that talks to moto is in the aws lane, whichever file it lives in; every test is in a lane."""
    for item in items:
        if AWS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.aws)
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(lane) for lane in LANES)]
    if unmarked:
        raise pytest.UsageError(f"tests in no lane (mark them one of {', '.join(LANES)}): {unmarked}")


# What a unit test may not do, and where Python does it.
OUTSIDE_WORLD = [
    (subprocess.Popen, "__init__", "start a process"),
    (os, "fork", "fork"),
    (os, "posix_spawn", "spawn a process"),
    (os, "posix_spawnp", "spawn a process"),
    (_posixsubprocess, "fork_exec", "start a process"),  # what multiprocessing and joblib's loky use
    (os, "system", "run a shell command"),
    (socket.socket, "connect", "open a connection"),
    (socket.socket, "connect_ex", "open a connection"),
    (socket, "getaddrinfo", "look up a host name"),
]


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The unit lane's promise, enforced: a test marked unit that starts a process or touches the network fails,
    even when the code under test catches the error (the attempt is recorded and reported at teardown)."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    attempts: list[str] = []
    # Threads left running by earlier tests (a server, a replay) are not this test's doing.
    earlier = {thread for thread in threading.enumerate() if thread is not threading.main_thread()}

    def refuse(what: str):
        def refused(*args: Any, **kwargs: Any) -> None:
            if threading.current_thread() not in earlier:
                attempts.append(what)
            raise OSError(f"{request.node.nodeid} is marked unit: it may not {what}")

        return refused

    for owner, name, what in OUTSIDE_WORLD:
        monkeypatch.setattr(owner, name, refuse(what))
    yield
    if attempts:
        pytest.fail(f"{request.node.nodeid} is marked unit but tried to {', '.join(sorted(set(attempts)))}")


SHIPPED_PLAN = DeploymentConfig().release_plan()  # every default, as the config models hold them


def margins(**overrides: Any) -> AnalysisMargins:
    """The shipped analysis margins with ``overrides``."""
    return replace(SHIPPED_PLAN.analysis, **overrides)


def release_plan(**overrides: Any) -> ReleasePlan:
    """The shipped release plan with ``overrides`` (validated as any plan is)."""
    return replace(SHIPPED_PLAN, **overrides)


def fast_deployment() -> dict[str, Any]:
    """Short bakes, free ports: a release in seconds that cannot collide with a running demo."""
    from ml_assets_tests.serving_fixtures import free_port

    return {
        "canary": {"steps": [50, 100]},
        "bake_seconds": 2,
        "max_bake_seconds": 120,
        # Wide margins: evidence within a few looks at 60 requests/s to the canary.
        "analysis": {"error_rate_margin": 0.1, "latency_ratio_margin": 4.0, "score_ks_margin": 0.35},
        "load_test": {
            "requests": 300,
            "concurrency": 4,
            "max_p50_ms": 500,
            "max_p95_ms": 1000,
            "max_p99_ms": 2000,
            "min_throughput_rps": 10,
            "min_success_rate": 0.99,
        },
        "replay_rate": 120,
        "staging_port": free_port(),
        "production_port": free_port(),
    }


def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


def raw_config(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def small_fraud_raw(**changes: Any) -> dict[str, Any]:
    small = deep_update(raw_config(), {**SMALL_FRAUD, "deployment": fast_deployment()})
    return deep_update(small, changes)


@pytest.fixture
def fraud_config() -> PipelineConfig:
    return parse_config(small_fraud_raw())


@pytest.fixture
def breast_cancer_config() -> PipelineConfig:
    return parse_config(raw_config(PACKAGE_DIR / "configs" / "breast_cancer.yaml"))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A private state folder; MLflow and Dagster point into it; servers started in it are stopped afterwards."""
    home = tmp_path / "home"
    monkeypatch.setenv("ML_ASSETS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    # Tests reach 127.0.0.1 only; the audit's real run against an unreachable database is in test_security.
    monkeypatch.setenv("ML_ASSETS_DEPENDENCY_AUDIT", "off")
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (home / "mlflow").mkdir(parents=True)
    settings = load_settings()
    yield settings
    from ml_assets.resources.local_platform import LocalBackend

    for environment in ("staging", "production"):
        LocalBackend(home, environment, host="127.0.0.1", port=0).stop_all()


def write_config(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def yesterday() -> dt.date:
    return dt.date.today() - dt.timedelta(days=1)


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Any]:
    """The production gateway of a fresh state folder, a real process on 127.0.0.1 (with the dashboard)."""
    from ml_assets.resources.local_platform import LocalBackend, free_port

    backend = LocalBackend(
        settings.home, "production", host="127.0.0.1", port=free_port(), config_path=str(DEFAULT_CONFIG)
    )
    backend.ensure_gateway()
    yield backend
    backend.stop_all()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto running as a real HTTP server on 127.0.0.1, for every AWS test of the session."""
    from ml_assets_tests.aws_fixtures import moto_server

    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def endpoint(moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty moto account and test credentials; boto3 clients made anew."""
    from ml_assets.resources.aws.session import _client
    from ml_assets_tests.aws_fixtures import CREDENTIALS, reset

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    reset(moto)
    _client.cache_clear()
    return moto
