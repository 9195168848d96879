"""The embedded serving platform: a gateway and model-server processes on 127.0.0.1, per environment.

Implements the release engine's ServingBackend, so the same canary and blue-green strategies run here and on
AWS. Processes run detached (their own session), with a pid file and a log per process in the state folder;
they outlive the Dagster run that started them, like ECS services outlive a deployment.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_assets.environment_variables import CONFIG
from ml_assets.resources.http import http
from ml_assets.resources.platform import ServingPlatform
from ml_assets.resources.storage import private_folder
from ml_assets.rollout.backend import ENVIRONMENTS, Health, ModelRef, ServingBackend
from ml_assets.rollout.evidence import Outcomes
from ml_assets.rollout.state import StateStore
from ml_assets.serving.auth import client_headers

if TYPE_CHECKING:
    from ml_assets.config import PipelineConfig
    from ml_assets.settings import Settings

BIN = Path(sys.executable).parent


class PlatformError(RuntimeError):
    """The local serving platform could not do what was asked (names the process or endpoint)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of ours counts as dead
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


class LocalBackend(ServingBackend):
    """One environment (staging or production) of the local platform."""

    @classmethod
    def recorded(cls, home: Path, environment: str) -> LocalBackend | None:
        """The backend at the address its gateway was last started on, if any (for status and stop)."""
        path = home / "serving" / environment / "gateway.url"
        if not path.exists():
            return None
        host, _, port = path.read_text().strip().removeprefix("http://").rpartition(":")
        return cls(home, environment, host=host, port=int(port))

    def __init__(self, home: Path, environment: str, *, host: str, port: int, config_path: str | None = None) -> None:
        self.dir = home / "serving" / environment
        self.environment, self.host, self.port, self.config_path = environment, host, port, config_path
        self.url = f"http://{host}:{port}"

    # -- processes ---------------------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> int:
        private_folder(self.dir)
        log = (self.dir / f"{name}.log").open("ab")
        env = {**os.environ, **({CONFIG.name: self.config_path} if self.config_path else {})}
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
        (self.dir / f"{name}.pid").write_text(str(process.pid))
        return process.pid

    def _stop(self, name: str) -> None:
        pid_file = self.dir / f"{name}.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)

    def _wait_healthy(self, url: str, name: str, *, timeout: float, pid: int | None = None) -> None:
        deadline = time.monotonic() + timeout
        log = self.dir / f"{name}.log"
        while time.monotonic() < deadline:
            if pid is not None and not _alive(pid):
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PlatformError(f"{self.environment} {name} exited before becoming healthy (log {log}):\n{tail}")
            try:
                if http("GET", f"{url}/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise PlatformError(
            f"{self.environment} {name} at {url} did not become healthy in {timeout:g} s "
            f"(log: {self.dir / (name + '.log')})"
        )

    @property
    def token(self) -> str:
        path = self.dir / "admin_token"
        if not os.path.lexists(path):  # a link (even a dangling one) is refused below, not written through
            private_folder(self.dir)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        mode = path.lstat().st_mode
        if path.is_symlink() or mode & 0o077:
            # like ssh with a private key: a token others can read (or a link to one) is not a secret any more
            raise PlatformError(
                f"the admin token {path} is {'a symbolic link' if path.is_symlink() else f'mode {mode & 0o777:o}'}: "
                "it must be a file only its owner can read (chmod 600 it, or delete it to get a new one)"
            )
        return path.read_text().strip()

    def gateway_running(self) -> bool:
        try:
            return http("GET", f"{self.url}/health", timeout=2)[0] == 200
        except OSError:
            return False

    def ensure_gateway(self, timeout: float = 60.0) -> None:
        if self.gateway_running():
            return
        self._stop("gateway")
        _ = self.token  # created before the gateway reads it
        pid = self._spawn(
            "gateway",
            [
                str(BIN / "ml-assets"),
                "gateway",
                "--environment",
                self.environment,
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
        )
        self._wait_healthy(self.url, "gateway", timeout=timeout, pid=pid)
        (self.dir / "gateway.url").write_text(self.url)

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        try:
            status, answer = http(method, f"{self.url}/admin{path}", body, token=self.token)
        except OSError as error:
            raise PlatformError(f"{self.environment} gateway at {self.url} unreachable: {error}") from None
        if status != 200:
            raise PlatformError(f"{self.environment} gateway {method} /admin{path} -> {status}: {answer}")
        return answer

    def state(self) -> dict[str, Any]:
        return self._admin("GET", "/state")

    # -- ServingBackend ----------------------------------------------------------------------------------------

    def launch(self, slot: str, model: ModelRef, timeout: float = 120.0) -> None:
        self.ensure_gateway()
        self.retire(slot)
        port = free_port(self.host)
        pid = self._spawn(
            slot,
            [
                str(BIN / "ml-assets"),
                "serve",
                "--model-uri",
                model.uri,
                "--host",
                self.host,
                "--port",
                str(port),
                "--variant",
                slot,
                "--environment",
                self.environment,
            ],
        )
        url = f"http://{self.host}:{port}"
        self._wait_healthy(url, slot, timeout=timeout, pid=pid)
        self._admin("PUT", f"/variants/{slot}", {"url": url, "model": model.name, "version": model.version, "pid": pid})

    def health(self, slot: str) -> Health:
        variant = self.state()["variants"].get(slot)
        if variant is None:
            return Health(False, f"no variant in {slot}")
        try:
            status, answer = http("GET", f"{variant['url']}/version", timeout=2, headers=client_headers())
        except OSError as error:
            return Health(False, f"{variant['url']}: {error}")
        if status != 200 or str(answer.get("version")) != str(variant.get("version")):
            return Health(False, f"{variant['url']}/version -> {status} {answer}")
        return Health(True, f"{answer['model']} v{answer['version']} at {variant['url']}")

    def serving(self) -> dict[str, ModelRef]:
        if not self.gateway_running():
            return {}
        return {slot: ModelRef(v["model"], str(v["version"])) for slot, v in self.state()["variants"].items()}

    def set_weights(self, weights: dict[str, int]) -> None:
        self._admin("PUT", "/weights", weights)

    def read_weights(self) -> dict[str, int]:
        if not self.gateway_running():
            return {}
        return dict(self.state()["weights"])

    def set_mirror(self, slot: str | None, percent: int) -> None:
        if self.gateway_running():
            self._admin("PUT", "/mirror", {"slot": slot, "percent": percent})

    def outcomes(self, slot: str, since: float, cursor: Any = None) -> tuple[Outcomes, Any]:
        """The gateway's records of ``slot`` newer than the cursor (epoch and number); a restarted gateway
        (new epoch) is read from its start."""
        epoch, after = cursor or (None, 0)
        raw = self._admin("GET", f"/outcomes?slot={slot}&since={since}&after={after}")
        if epoch is not None and raw["epoch"] != epoch:
            raw = self._admin("GET", f"/outcomes?slot={slot}&since={since}&after=0")
        return Outcomes.from_columns(raw), (raw["epoch"], raw["last"])

    def retire(self, slot: str) -> None:
        if self.gateway_running() and slot in self.state()["variants"]:
            self._admin("DELETE", f"/variants/{slot}")
        self._stop(slot)

    def score(self, slot: str, records: list[dict]) -> tuple[int, Any]:
        variant = self.state()["variants"].get(slot)
        if variant is None:
            raise PlatformError(f"{self.environment}: no variant in {slot}")
        return http("POST", f"{variant['url']}/predict", records, timeout=30, headers=client_headers())

    def replay_url(self) -> str:
        """The gateway's /predict: a local environment has no clients but the ones a person starts."""
        self.ensure_gateway()
        return f"{self.url}/predict"

    def router_state(self) -> str:
        return "running" if self.gateway_running() else "stopped"

    def dashboard_url(self) -> str | None:
        return f"{self.url}/dashboard" if self.environment == "production" else None

    def sample(self, drain: bool = False) -> dict[str, Any]:
        """The gateway's sample of scored requests; ``drain`` starts a new one."""
        return self._admin("GET", "/sample?drain=true" if drain else "/sample")

    def stop_all(self) -> None:
        for pid_file in self.dir.glob("*.pid"):
            self._stop(pid_file.stem)


class LocalServingPlatform(ServingPlatform):
    """The embedded default: gateways and model servers on loopback, state in ML_ASSETS_HOME/serving."""

    home: str
    host: str
    staging_port: int
    production_port: int
    config_path: str | None = None

    @classmethod
    def from_config(cls, settings: Settings, config: PipelineConfig) -> LocalServingPlatform:
        deployment = config.deployment
        return cls(
            home=str(settings.home),
            host=deployment.host,
            staging_port=deployment.staging_port,
            production_port=deployment.production_port,
            config_path=str(settings.config_path),
        )

    def backend(self, environment: str) -> LocalBackend:
        ports = {"staging": self.staging_port, "production": self.production_port}
        if environment not in ports:
            raise PlatformError(f"unknown environment {environment!r}; expected one of {sorted(ports)}")
        return LocalBackend(
            Path(self.home), environment, host=self.host, port=ports[environment], config_path=self.config_path
        )

    def live_backend(self, environment: str) -> LocalBackend:
        """Where the environment's gateway last ran (it may predate a port change), else where it is configured."""
        return LocalBackend.recorded(Path(self.home), environment) or self.backend(environment)

    def stop(self) -> str:
        for environment in ENVIRONMENTS:
            self.live_backend(environment).stop_all()
        return "stopped every gateway and model server"

    def state_store(self) -> StateStore:
        """Where rollout states live (reconciled by the next deployment run)."""
        from ml_assets.resources.rollout_state import JsonStateStore

        return JsonStateStore(Path(self.home) / "rollouts")
