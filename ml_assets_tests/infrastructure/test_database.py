"""One Postgres user per service, set up by `ml-assets db-setup` on a real Postgres server on 127.0.0.1."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_assets.resources.local_platform import free_port

pytestmark = pytest.mark.pipeline
BIN = Path(sys.executable).parent
ADMIN, ADMIN_PASSWORD = "ml_assets", "master-password-" + "m" * 16  # like RDS's master user: not a superuser
SUPERUSER = "postgres_superuser"


def as_postgres(command: list[str]) -> list[str]:
    """Postgres refuses to run as root: run its tools as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no Postgres server binaries (initdb, pg_ctl) on this machine")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no postgres user to run the server as")
    # not under pytest's temporary root: that one is private to us, and the server runs as another user
    folder = Path(tempfile.mkdtemp(prefix="ml_assets-postgres-"))
    data, password_file = folder / "data", folder / "password"
    password_file.write_text(ADMIN_PASSWORD)
    if os.geteuid() == 0:
        for path in (folder, password_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        as_postgres([initdb, "-D", str(data), "-U", SUPERUSER, "--auth=scram-sha-256", f"--pwfile={password_file}"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    start = as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
    subprocess.run(start, check=True, capture_output=True, timeout=120)
    superuser = connect(port, SUPERUSER, ADMIN_PASSWORD, "postgres")
    superuser.autocommit = True
    superuser.cursor().execute(f"CREATE ROLE {ADMIN} LOGIN CREATEROLE CREATEDB PASSWORD '{ADMIN_PASSWORD}'")
    superuser.close()
    try:
        yield port
    finally:
        subprocess.run(as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def connect(port: int, user: str, password: str, database: str):
    import psycopg2

    return psycopg2.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname=database, connect_timeout=10
    )


def db_setup(port: int, **passwords: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_DB_HOST": "127.0.0.1",
        "MLFLOW_DB_PORT": str(port),
        "ML_ASSETS_DB_ADMIN_USER": ADMIN,
        "ML_ASSETS_DB_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ML_ASSETS_DB_SSLMODE": "disable",  # a local server without TLS; RDS: verify-full against its CA
        **passwords,
    }
    return subprocess.run([str(BIN / "ml-assets"), "db-setup"], env=env, capture_output=True, text=True, timeout=120)


def test_each_service_opens_its_own_database_only(postgres: int) -> None:
    import psycopg2

    # RDS creates the mlflow database; a server that ran as the master user left a table in it
    admin = connect(postgres, ADMIN, ADMIN_PASSWORD, "postgres")
    admin.autocommit = True  # CREATE DATABASE runs outside a transaction
    admin.cursor().execute("CREATE DATABASE mlflow")
    admin.close()
    with connect(postgres, ADMIN, ADMIN_PASSWORD, "mlflow") as admin:
        admin.cursor().execute("CREATE TABLE experiments (id serial PRIMARY KEY, name text)")  # owns a sequence
        admin.cursor().execute("CREATE SEQUENCE run_numbers")
        admin.cursor().execute("CREATE VIEW experiment_names AS SELECT name FROM experiments")
    mlflow_password, dagster_password = "mlflow-password-" + "a" * 16, "dagster-password-" + "b" * 16
    done = db_setup(postgres, MLFLOW_DB_PASSWORD=mlflow_password, DAGSTER_PG_PASSWORD=dagster_password)
    assert done.returncode == 0, done.stderr
    assert "user mlflow created" in done.stdout and "database dagster created" in done.stdout
    assert "3 objects the master user created now mlflow's" in done.stdout  # table, view, free sequence
    assert mlflow_password not in done.stdout + done.stderr and ADMIN_PASSWORD not in done.stdout + done.stderr

    for user, password, own, other in (
        ("mlflow", mlflow_password, "mlflow", "dagster"),
        ("dagster", dagster_password, "dagster", "mlflow"),
    ):
        with connect(postgres, user, password, own) as mine:
            mine.cursor().execute("CREATE TABLE IF NOT EXISTS mine (id int)")  # it owns its database
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            connect(postgres, user, password, other)
    with connect(postgres, "mlflow", mlflow_password, "mlflow") as mine:
        cursor = mine.cursor()
        cursor.execute("INSERT INTO experiments (name) VALUES ('a')")  # the old table and its sequence are its now
        cursor.execute("SELECT nextval('run_numbers'), count(*) FROM experiment_names")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(postgres, "mlflow", "wrong-password-" + "c" * 16, "mlflow")

    # run again with a new password: rotation, nothing else changes
    rotated = "mlflow-rotated-" + "d" * 16
    again = db_setup(postgres, MLFLOW_DB_PASSWORD=rotated, DAGSTER_PG_PASSWORD=dagster_password)
    assert again.returncode == 0 and "user mlflow updated" in again.stdout and "created" not in again.stdout
    connect(postgres, "mlflow", rotated, "mlflow").close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(postgres, "mlflow", mlflow_password, "mlflow")


def test_bad_settings_are_named_and_change_nothing(postgres: int) -> None:
    missing = db_setup(postgres, MLFLOW_DB_PASSWORD="mlflow-password-" + "a" * 16)
    assert missing.returncode == 2 and "db-setup needs DAGSTER_PG_PASSWORD" in missing.stderr
    short = db_setup(postgres, MLFLOW_DB_PASSWORD="short", DAGSTER_PG_PASSWORD="dagster-password-" + "b" * 16)
    assert short.returncode == 2 and "password of database user 'mlflow' is shorter than 16" in short.stderr
    env_password = {"MLFLOW_DB_PASSWORD": "mlflow-password-" + "a" * 16, "DAGSTER_PG_PASSWORD": "x" * 20}
    wrong = db_setup(postgres, **env_password, ML_ASSETS_DB_ADMIN_PASSWORD="not-the-master-password")
    assert wrong.returncode == 1 and "password authentication failed" in wrong.stderr
    assert "not-the-master-password" not in wrong.stderr
