"""Scratch state folders and server processes on 127.0.0.1, for the benchmarks that start servers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from ml_assets.resources.http import http

BIN = Path(sys.executable).parent


def scratch_env(home: str | Path) -> dict[str, str]:
    """This process's environment pointed at a scratch state folder: its own ML_ASSETS_HOME, MLflow tracking store
    and registry. The registry too: a registry URI from outside (MLflow's ``set_registry_uri`` exports one to
    child processes) would send the servers to another registry. PATH leads with this interpreter's scripts
    (`mlflow models serve` starts `uvicorn` by name)."""
    tracking = f"sqlite:///{home}/mlflow.db"
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ML_ASSETS_HOME": str(home),
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_REGISTRY_URI": tracking,
    }


def wait(url: str, timeout: float = 120, log: Path | None = None) -> None:
    """Until ``url`` answers 200; after ``timeout`` seconds, an error with the end of the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy; log: {log.read_text()[-3000:] if log else ''}")


def launch(stack: ExitStack, command: list[str], env: dict[str, str]) -> Path:
    """``command`` as a process stopped when ``stack`` closes, its output logged in the state folder; the log's
    path. Servers launched together start side by side; `wait` for each before sending traffic."""
    home = env["ML_ASSETS_HOME"]
    path = Path(home) / f"{Path(command[0]).name}-{len(os.listdir(home))}.log"
    log = path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    stack.callback(stop)
    return path


def start(stack: ExitStack, command: list[str], env: dict[str, str], health: str) -> None:
    """`launch` ``command``; returns when ``health`` answers."""
    wait(health, log=launch(stack, command, env))
