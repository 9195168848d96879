"""The production deployment files: the Dagster instance config, the workspace, and the images' entry commands,
run here directly (no Docker engine on this machine) with the environment Terraform gives the tasks."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest
import yaml

from ml_assets.cli import mlflow_server_command
from ml_assets_tests.serving_fixtures import free_port, home_env, register_models, request, running

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
PLATFORM_TF = (ROOT / "terraform" / "modules" / "platform" / "main.tf").read_text()


def dockerfile(name: str) -> dict[str, object]:
    """CMD, HEALTHCHECK command and ENV of a Dockerfile (exec form)."""
    text = (DEPLOY / f"Dockerfile.{name}").read_text().replace("\\\n", " ")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(re.findall(r"^ENV (.*)$", text, re.M))))
    return {
        "cmd": json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1)),
        "healthcheck": json.loads(re.search(r"^HEALTHCHECK .*CMD (\[.*\])$", text, re.M).group(1)),
        "env": env,
    }


def terraform_command(component: str) -> list[str]:
    pattern = rf"^\s+{re.escape(component)}\s+=\s+\{{\s*command\s*=\s*(\[[^\]]*\])"
    block = re.search(pattern, PLATFORM_TF, re.M).group(1)
    return json.loads(block)


@pytest.mark.unit
def test_the_instance_config_is_valid_for_every_configured_class(tmp_path: Path, monkeypatch) -> None:
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy.engine import make_url

    from ml_assets import environment_variables as env

    for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(key, "x")
        assert key in PLATFORM_TF  # Terraform gives it to the tasks
    for key in ("DAGSTER_RUN_TASK_DEFINITION", "DAGSTER_COMPUTE_LOGS_BUCKET"):
        monkeypatch.setenv(key, "x")
        assert re.search(rf"^\s+{key}\s+=", PLATFORM_TF, re.M)
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres" in config["storage"]
    # The storage URL names a driver that is installed (SQLAlchemy 2.1's default for postgresql:// is psycopg 3).
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    postgres_url = pg_url_from_config(storage.value)
    assert postgres_url.startswith("postgresql+psycopg2://")
    make_url(postgres_url).get_dialect().import_dbapi()
    # The database's certificate is verified (require would encrypt to whoever answers) against the CA bundle
    # the image holds, and the MLflow server's URI says the same.
    assert make_url(postgres_url).query == {"sslmode": "verify-full", "sslrootcert": env.MLFLOW_DB_CA_BUNDLE.default}
    dockerfile = (DEPLOY / "Dockerfile.code-location").read_text()
    assert re.search(rf"^ADD --chmod=444 https://\S+ {re.escape(env.MLFLOW_DB_CA_BUNDLE.default)}$", dockerfile, re.M)
    for key in ("run_coordinator", "run_launcher", "compute_logs"):
        section = config[key]
        cls = getattr(importlib.import_module(section["module"]), section["class"])
        result = process_config(cls.config_type(), section.get("config") or {})
        assert result.success, (key, [error.message for error in result.errors])
    assert config["run_launcher"]["class"] == "EcsRunLauncher"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    # The run task's container is the one the launcher overrides.
    assert 'container   = "run"' in PLATFORM_TF and config["run_launcher"]["config"]["container_name"] == "run"


@pytest.mark.unit
def test_the_workspace_reaches_the_code_location_by_its_cloud_map_name() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server["host"] == {"env": "DAGSTER_CODE_LOCATION_HOST"} and server["port"] == 4000
    assert re.search(r'DAGSTER_CODE_LOCATION_HOST\s+= "code-location\.\$\{local\.namespace\}"', PLATFORM_TF)
    for component in ("dagster-webserver", "dagster-daemon"):
        command = terraform_command(component)
        assert "/opt/ml_assets/deploy/workspace.yaml" in command
    assert "COPY deploy/workspace.yaml ./deploy/workspace.yaml" in (DEPLOY / "Dockerfile.code-location").read_text()


def loopback(command: list[str], port: int) -> list[str]:
    """The image's command with the address a test may bind (loopback) and a free port."""
    out = []
    for part in command:
        out.append({"0.0.0.0": "127.0.0.1", "4000": str(port), "5000": str(port)}.get(part, part))
    return out


@pytest.mark.pipeline
def test_the_model_server_image_command_serves_the_version_a_release_names(tmp_path: Path) -> None:
    image = dockerfile("model-server")
    assert image["cmd"] == ["ml-assets", "serve"]
    _, versions, _ = register_models(tmp_path)
    port = free_port()
    env = {
        **home_env(tmp_path),
        **{k: v for k, v in image["env"].items() if k.startswith("ML_ASSETS_") and k != "ML_ASSETS_HOME"},
        "ML_ASSETS_HOST": "127.0.0.1",  # the image binds 0.0.0.0; tests stay on loopback
        "ML_ASSETS_PORT": str(port),
        "ML_ASSETS_MODEL_URI": f"models:/test_mlp/{versions['mlp'].version}",  # set by the release
        "ML_ASSETS_SLOT": "green",
        "ML_ASSETS_ENVIRONMENT": "production",
    }
    assert image["env"]["ML_ASSETS_PORT"] == "8080"
    with running([str(BIN / image["cmd"][0]), *image["cmd"][1:]], env, f"http://127.0.0.1:{port}/health"):
        status, identity = request(f"http://127.0.0.1:{port}/version")
        probe = [part.replace("8080", str(port)) for part in image["healthcheck"]]
        checked = subprocess.run([sys.executable, *probe[1:]], timeout=30)
    assert status == 200 and identity["variant"] == "green" and identity["version"] == versions["mlp"].version
    assert checked.returncode == 0


@pytest.mark.pipeline
def test_the_code_location_image_command_serves_the_definitions(tmp_path: Path) -> None:
    image = dockerfile("code-location")
    assert image["cmd"] == terraform_command("code-location")
    port = free_port()
    command = loopback(image["cmd"], port)
    env = {**home_env(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    log = tmp_path / "code-server.log"  # a file, not a pipe nobody reads while the server runs
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its gRPC child goes with it
        )
    probe = loopback(image["healthcheck"], port)
    try:
        deadline = time.monotonic() + 120
        while True:
            checked = subprocess.run([str(BIN / probe[0]), *probe[1:]], capture_output=True, text=True, timeout=30)
            if checked.returncode == 0:
                break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, checked.stdout + checked.stderr
            time.sleep(1)
    finally:
        # Dagster's code server has once hung on SIGTERM here (threads waiting on a lock, 40 min later) under a loaded
        # CI run; ECS sends SIGKILL after the stop timeout, and so does this test. What it checks is the serving.
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.pipeline
def test_the_mlflow_server_command_serves_and_never_prints_the_password(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    assert terraform_command("mlflow")[:2] == ["ml-assets", "mlflow-server"]
    args = Namespace(host="127.0.0.1", port=5000)
    secret = "p@ss:w/rd"
    command, environment, shown = mlflow_server_command(
        args,
        {"MLFLOW_DB_HOST": "db.internal", "MLFLOW_DB_USER": "ml_assets", "MLFLOW_DB_PASSWORD": secret},
        scratch=tmp_path,
    )
    # The password reaches the server through its environment, never its command line (readable by any process).
    store = environment["MLFLOW_BACKEND_STORE_URI"]
    assert store == (
        "postgresql+psycopg2://ml_assets:p%40ss%3Aw%2Frd@db.internal:5432/mlflow"
        "?sslmode=verify-full&sslrootcert=%2Fopt%2Fml_assets%2Frds-ca-bundle.pem"
    )
    assert make_url(store).query == {"sslmode": "verify-full", "sslrootcert": "/opt/ml_assets/rds-ca-bundle.pem"}
    assert not any(secret in part or "p%40ss" in part or "db.internal" in part for part in command)
    assert "MLFLOW_DB_PASSWORD" not in environment
    assert secret not in shown and "p%40ss" not in shown and "ml_assets:***@db.internal" in shown
    make_url(store).get_dialect().import_dbapi()  # a driver that is installed
    with pytest.raises(ValueError, match="MLFLOW_DB_PASSWORD"):
        mlflow_server_command(args, {"MLFLOW_DB_HOST": "db.internal", "MLFLOW_DB_USER": "ml_assets"}, scratch=tmp_path)

    port = free_port()
    env = {
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
    }
    command = loopback(terraform_command("mlflow"), port)
    with running([str(BIN / command[0]), *command[1:]], env, f"http://127.0.0.1:{port}/health", timeout=120) as process:
        assert request(f"http://127.0.0.1:{port}/health")[0] == 200
    assert "starting" in process.stdout.read()


@pytest.mark.pipeline
def test_the_mlflow_server_refuses_everyone_but_the_pipeline(tmp_path: Path, monkeypatch) -> None:
    """With MLFLOW_AUTH_ADMIN_PASSWORD (a secret on AWS) the server runs MLflow's basic-auth app: one user, the
    pipeline; anyone else who reaches port 5000 gets a 401 and cannot log, register or read anything."""
    import base64
    import urllib.error
    import urllib.request

    from sklearn.linear_model import LogisticRegression

    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets_tests.serving_fixtures import FEATURES, synthetic

    password = "pipeline-password-" + "p" * 16
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = Namespace(host="127.0.0.1", port=5000)
    command, _, shown = mlflow_server_command(
        args, {"MLFLOW_BACKEND_STORE_URI": "sqlite:///x.db", "MLFLOW_AUTH_ADMIN_PASSWORD": password}, scratch=scratch
    )
    config = (scratch / "basic_auth.ini").read_text()
    assert command[-2:] == ["--app-name", "basic-auth"] and "default_permission = NO_PERMISSIONS" in config
    assert password not in " ".join(command) + config + shown  # the password stays in the environment

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
    }
    command = loopback(terraform_command("mlflow"), port)

    def status(user: str | None, secret: str | None) -> int:
        search = urllib.request.Request(f"{url}/api/2.0/mlflow/registered-models/search")
        if user is not None:
            search.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode())
        try:
            with urllib.request.urlopen(search, timeout=30) as answer:  # nosec B310  # loopback
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    with running([str(BIN / command[0]), *command[1:]], env, f"{url}/health", timeout=120):
        assert [status(None, None), status("pipeline", "wrong"), status("someone", password)] == [401, 401, 401]
        assert status("pipeline", password) == 200
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "pipeline")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        registry = MlflowRegistry(tracking_uri=url, model_store=str(tmp_path / "model_store"))
        x, y = synthetic(200)
        version = registry.log_model(
            experiment="auth",
            run_name="lr",
            model=LogisticRegression().fit(x, y),
            registered_model_name="auth_test",
            params={},
            metrics={},
            tags={},
            input_example=x.head(3),
        )
        assert list(registry.load_model(version.name, version.version).feature_names_in_) == FEATURES
        assert (tmp_path / "artifacts").exists()  # the artifacts went through the server, authenticated too
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
        with pytest.raises(Exception, match=r"401|nauthorized|credentials"):
            registry.client().search_registered_models()


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{name: (version, hashes)} of a pip-compile lock."""
    entries = {}
    for chunk in re.split(r"\n(?=\S)", path.read_text()):
        found = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", chunk)
        if found:
            name = re.sub(r"[-_.]+", "-", found.group(1)).lower()
            entries[name] = (found.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", chunk))
    return entries


@pytest.mark.unit
def test_every_install_checks_each_package_against_its_hash() -> None:
    """The locks pin every distribution with its hashes, the images' lock is the tested set's versions, and every
    install (make install, both images) runs pip in hash-checking mode."""
    root = DEPLOY.parent
    full, runtime = locked(root / "requirements.lock"), locked(root / "requirements-runtime.lock")
    assert len(full) > 150 and len(runtime) > 100
    unhashed = [name for name, (_, hashes) in {**full, **runtime}.items() if not hashes]
    assert unhashed == []
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: full[name][0] for name in runtime
    }  # the images run the versions the tests ran
    assert {"dagster", "mlflow", "xgboost-cpu", "uvicorn", "boto3"} <= set(runtime)
    assert not {"pytest", "ruff", "moto"} & set(runtime)  # no test tools in the images
    assert "setuptools" in runtime  # the images build the package itself with the hashed setuptools, nothing else
    makefile = (root / "Makefile").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r requirements.lock" in makefile
    for image in ("model-server", "code-location"):
        text = (DEPLOY / f"Dockerfile.{image}").read_text()
        assert "pip install --require-hashes --no-deps -r requirements-runtime.lock" in text, image
        assert "-c requirements" not in text, image
