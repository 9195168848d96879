"""Every environment variable ml_assets reads, declared once: its name, type, default and meaning.

Code reads a variable through its declaration (``HOME.get()``), never ``os.environ`` by name, so this file is the
whole list a user or an operator needs (the README's Settings table is checked against it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FALSE_WORDS = ("off", "0", "false", "no")


@dataclass(frozen=True)
class EnvironmentVariable:
    """One variable: ``get`` returns its typed value, or ``default`` when it is unset or empty."""

    name: str
    type: type
    default: Any
    description: str

    def get(self, environ: Mapping[str, str] | None = None) -> Any:
        raw = (os.environ if environ is None else environ).get(self.name, "")
        if raw == "":
            return self.default
        if self.type is bool:
            return raw.strip().lower() not in FALSE_WORDS
        try:
            return self.type(raw)
        except ValueError:
            raise ValueError(f"environment variable {self.name}={raw!r} is not a {self.type.__name__}") from None

    def is_set(self, environ: Mapping[str, str] | None = None) -> bool:
        return bool((os.environ if environ is None else environ).get(self.name))

    def set(self, value: str) -> None:
        """Set this process's value (child processes inherit it)."""
        os.environ[self.name] = value

    def set_default(self) -> None:
        """Set this process's value to ``default`` unless the user set one (for libraries that read it)."""
        os.environ.setdefault(self.name, str(self.default).lower() if self.type is bool else str(self.default))


def _declare(name: str, type_: type, default: Any, description: str) -> EnvironmentVariable:
    variable = EnvironmentVariable(name, type_, default, description)
    ALL[name] = variable
    return variable


ALL: dict[str, EnvironmentVariable] = {}

# -- where the pipeline keeps its configuration and state ---------------------------------------------------------
CONFIG = _declare("ML_ASSETS_CONFIG", str, None, "the pipeline config (default: the fraud config in the package)")
HOME = _declare(
    "ML_ASSETS_HOME", str, None, "the state folder: landing data, Dagster instance, MLflow store, reports, values"
)
STORAGE = _declare("ML_ASSETS_STORAGE", str, None, "asset values: a folder or s3://bucket/prefix")
REPORTS = _declare(
    "ML_ASSETS_REPORTS", str, None, "reports (Data Docs, plots, drift pages, rollouts): a folder or s3://bucket/prefix"
)
MLFLOW_TRACKING_URI = _declare("MLFLOW_TRACKING_URI", str, None, "the MLflow tracking server or store")
MLFLOW_REGISTRY_URI = _declare("MLFLOW_REGISTRY_URI", str, None, "the MLflow Model Registry (default: tracking)")
MODEL_STORE = _declare(
    "ML_ASSETS_MODEL_STORE",
    str,
    None,
    "the models as trained, with their SHA-256: what is served (a folder or s3://bucket/prefix only training writes)",
)
DAGSTER_HOME = _declare("DAGSTER_HOME", str, None, "the Dagster instance (read by Dagster itself)")
DATA_BUCKET = _declare(
    "ML_ASSETS_DATA_BUCKET", str, None, "the data bucket that configs name as ${ML_ASSETS_DATA_BUCKET}"
)

# -- pipeline behaviour -------------------------------------------------------------------------------------------
DEPENDENCY_AUDIT = _declare(
    "ML_ASSETS_DEPENDENCY_AUDIT", bool, True, "off skips pip-audit (reported as not run, a warning)"
)
ALERT_WEBHOOK = _declare(
    "ML_ASSETS_ALERT_WEBHOOK", str, None, "a URL that failed runs are POSTed to (JSON: text, job, run_id, pipeline)"
)
AWS_ENDPOINT_URL = _declare("AWS_ENDPOINT_URL", str, None, "an AWS endpoint other than AWS's own (moto in tests)")

# -- the model server (an ECS task definition sets these instead of command-line options) -------------------------
ECS_CLUSTER = _declare("ML_ASSETS_ECS_CLUSTER", str, None, "training.compute ecs: the cluster training tasks run on")
TRAINING_TASK_PREFIX = _declare(
    "ML_ASSETS_TRAINING_TASK_PREFIX", str, None, "training.compute ecs: task definitions <prefix>-<algorithm>"
)
TRAINING_SUBNETS = _declare(
    "ML_ASSETS_TRAINING_SUBNETS", str, None, "training.compute ecs: subnet ids, comma-separated"
)
TRAINING_SECURITY_GROUPS = _declare(
    "ML_ASSETS_TRAINING_SECURITY_GROUPS", str, None, "training.compute ecs: security group ids, comma-separated"
)
MODEL_URI = _declare("ML_ASSETS_MODEL_URI", str, None, "the model server's model: models:/NAME/VERSION")
SERVER_HOST = _declare("ML_ASSETS_HOST", str, "127.0.0.1", "the address the model server binds to")
SERVER_PORT = _declare("ML_ASSETS_PORT", int, 8601, "the model server's port")
HEALTH_PORT = _declare(
    "ML_ASSETS_HEALTH_PORT",
    int,
    None,
    "the model server also answers /health here, from a thread of its own (the load balancer's health check)",
)
SCORING_WORKERS = _declare(
    "ML_ASSETS_SCORING_WORKERS", int, 2, "the model server: requests scored at once, in threads off its event loop"
)
SCORING_QUEUE = _declare(
    "ML_ASSETS_SCORING_QUEUE", int, 32, "the model server: requests waiting to be scored; beyond, 503 + Retry-After"
)
SCORING_KEYS = _declare(
    "ML_ASSETS_SCORING_KEYS",
    str,
    None,
    "the API keys scoring clients present (Bearer): secretsmanager:<secret id> or file:<path>; unset: no keys "
    "asked, and the servers refuse to bind beyond loopback",
)
SCORING_KEYS_REFRESH_SECONDS = _declare(
    "ML_ASSETS_SCORING_KEYS_REFRESH_SECONDS", float, 300.0, "how often servers re-read the API keys (rotation)"
)
SLOT = _declare("ML_ASSETS_SLOT", str, "default", "the colour (blue, green) the model server serves in")
ENVIRONMENT = _declare("ML_ASSETS_ENVIRONMENT", str, "default", "the environment the model server belongs to")
CLOUDWATCH_NAMESPACE = _declare(
    "ML_ASSETS_CLOUDWATCH_NAMESPACE", str, None, "the model server publishes per-second metrics here when set"
)
TRAFFIC_LOG = _declare(
    "ML_ASSETS_TRAFFIC_LOG", str, None, "where the model server writes scored requests and outcomes (a store URL)"
)
CHAOS = _declare(
    "ML_ASSETS_CHAOS", str, "{}", "fault injection for tests: JSON of model/version -> error rate and delay"
)

# -- libraries' own switches, set quietly unless the user set them --------------------------------------------------
GX_ANALYTICS = _declare("GX_ANALYTICS_ENABLED", bool, False, "Great Expectations' usage analytics (off: no network)")
MLFLOW_PROGRESS_BARS = _declare(
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", bool, False, "MLflow's download progress bars (off: clean logs)"
)

# -- the MLflow server container (ml-assets mlflow-server) --------------------------------------------------------
MLFLOW_BACKEND_STORE_URI = _declare("MLFLOW_BACKEND_STORE_URI", str, None, "the MLflow server's store, whole")
MLFLOW_DB_HOST = _declare("MLFLOW_DB_HOST", str, None, "the MLflow server's Postgres host")
MLFLOW_DB_PORT = _declare("MLFLOW_DB_PORT", str, "5432", "the MLflow server's Postgres port")
MLFLOW_DB_NAME = _declare("MLFLOW_DB_NAME", str, "mlflow", "the MLflow server's database")
MLFLOW_DB_USER = _declare("MLFLOW_DB_USER", str, None, "the MLflow server's database user")
MLFLOW_DB_PASSWORD = _declare("MLFLOW_DB_PASSWORD", str, None, "the MLflow server's database password (a secret)")
MLFLOW_DB_CA_BUNDLE = _declare(
    "MLFLOW_DB_CA_BUNDLE",
    str,
    "/opt/ml_assets/rds-ca-bundle.pem",
    "the CA bundle the database's certificate is verified against (sslmode=verify-full; the image holds RDS's)",
)
DAGSTER_PG_USERNAME = _declare("DAGSTER_PG_USERNAME", str, "dagster", "Dagster's Postgres user (dagster.yaml)")
DAGSTER_PG_PASSWORD = _declare("DAGSTER_PG_PASSWORD", str, None, "Dagster's Postgres password (a secret)")
DAGSTER_PG_DB = _declare("DAGSTER_PG_DB", str, "dagster", "Dagster's Postgres database")
DB_ADMIN_USER = _declare(
    "ML_ASSETS_DB_ADMIN_USER", str, None, "ml-assets db-setup: the database's master user (RDS's, once)"
)
DB_ADMIN_PASSWORD = _declare("ML_ASSETS_DB_ADMIN_PASSWORD", str, None, "ml-assets db-setup: its password (a secret)")
DB_SSLMODE = _declare(
    "ML_ASSETS_DB_SSLMODE", str, "verify-full", "ml-assets db-setup: TLS to the database (verify-full on RDS)"
)
MLFLOW_ARTIFACTS_DESTINATION = _declare(
    "MLFLOW_ARTIFACTS_DESTINATION", str, "./mlartifacts", "where the MLflow server keeps artifacts"
)
MLFLOW_AUTH_ADMIN_USERNAME = _declare(
    "MLFLOW_AUTH_ADMIN_USERNAME", str, "pipeline", "the MLflow server's one user (the pipeline: runs, CI)"
)
MLFLOW_AUTH_ADMIN_PASSWORD = _declare(
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    str,
    None,
    "set: the MLflow server asks every caller for that user's password (basic auth); clients send "
    "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (a secret)",
)
MLFLOW_ALLOWED_HOSTS = _declare("MLFLOW_ALLOWED_HOSTS", str, None, "Host headers the MLflow server accepts")
