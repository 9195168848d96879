"""Registered models of every kind and real server processes on 127.0.0.1 for the serving tests."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from ml_assets.config import AlgorithmConfig
from ml_assets.resources.local_platform import free_port
from ml_assets.resources.mlflow_registry import MlflowRegistry, RegisteredVersion
from ml_assets.training.algorithms import build_estimator

BIN = Path(sys.executable).parent
FEATURES = [f"f{i}" for i in range(6)]
KINDS = {
    "random_forest": AlgorithmConfig(kind="random_forest", params={"n_estimators": 30, "random_state": 0}),
    "xgboost": AlgorithmConfig(kind="xgboost", params={"n_estimators": 30, "max_depth": 3, "random_state": 0}),
    "mlp": AlgorithmConfig(kind="mlp", params={"hidden_layer_sizes": [8], "max_iter": 200, "random_state": 0}),
}


def synthetic(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    x, y = make_classification(n_samples=n, n_features=len(FEATURES), weights=[0.9], random_state=seed)
    return pd.DataFrame(x, columns=FEATURES), pd.Series(y)


def register_models(home: Path) -> tuple[MlflowRegistry, dict[str, RegisteredVersion], dict[str, Any]]:
    registry = MlflowRegistry(
        tracking_uri=f"sqlite:///{home}/mlflow/mlflow.db",
        artifact_root=str(home / "mlflow" / "artifacts"),
        model_store=str(home / "model_store"),
    )
    (home / "mlflow").mkdir(parents=True, exist_ok=True)
    x, y = synthetic()
    versions, models = {}, {}
    for kind, algorithm in KINDS.items():
        model = build_estimator(algorithm).fit(x, y)
        versions[kind] = registry.log_model(
            experiment="serving-tests",
            run_name=kind,
            model=model,
            registered_model_name=f"test_{kind}",
            params={},
            metrics={},
            tags={"algorithm": kind},
            input_example=x.head(3),
        )
        models[kind] = model
    return registry, versions, models


def request(
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    method: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None and content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


@contextmanager
def running(
    command: list[str], env: dict[str, str], health_url: str, timeout: float = 90.0
) -> Iterator[subprocess.Popen]:
    """Start a server process, wait for its health endpoint, stop it afterwards (always)."""
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()}")
            try:
                if request(health_url, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{health_url} not up after {timeout} s")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def serve_command(model_uri: str, port: int, variant: str = "blue") -> list[str]:
    return [str(BIN / "ml-assets"), "serve", "--model-uri", model_uri, "--port", str(port), "--variant", variant]


def home_env(home: Path) -> dict[str, str]:
    return {"ML_ASSETS_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow/mlflow.db"}


def as_records(frame: pd.DataFrame) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def reference_scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(frame))[:, 1]


def ml_assets_command(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the ``ml-assets`` console script as a user would, output captured, bounded in time."""
    command = [str(Path(sys.executable).parent / "ml-assets"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def call(url: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None) -> tuple[int, dict]:
    """One request with headers as raw bytes (latin-1, as HTTP carries them), which urllib would refuse."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value.encode("utf-8"))
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        payload = response.read()
        try:
            return response.status, json.loads(payload or b"{}")
        except ValueError:  # Starlette's own 404 and 405 are plain text
            return response.status, {"text": payload.decode(errors="replace")}
    finally:
        connection.close()


class SlowModel:
    """A stand-in model that takes a fixed time to score (a real one's time varies with the machine's load): the
    test needs requests that are certainly still scoring when the next ones arrive."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict_proba(self, matrix):
        import time

        import numpy as np

        time.sleep(self.seconds)
        return np.tile([0.9, 0.1], (len(matrix), 1))


class Serving:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread of this process, stopped on exit."""

    def __init__(self, app) -> None:
        import threading

        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Serving:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def key_file(tmp_path: Path, *keys: str, mode: int = 0o600) -> Path:
    """A file of API keys (one per line) as ml_assets reads them: mode 0600 unless told."""
    path = tmp_path / "scoring_keys"
    path.write_text("\n".join(keys) + "\n")
    path.chmod(mode)
    return path
