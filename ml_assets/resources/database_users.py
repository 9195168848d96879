"""One Postgres user per service: MLflow and Dagster each own their database, and neither can open the other's.

RDS creates one master user. Letting both services log in as it would let a compromised MLflow task read or rewrite
Dagster's run history (and the reverse), and would leave the master password in every task. ``set_up`` runs once
with the master user (``ml-assets db-setup``, an ECS task of its own on AWS): it creates or updates each service's
user with its password, creates its database if missing, gives the user the database and what the master user
created in it, and takes every database's CONNECT away from PUBLIC. Running it again sets the passwords again
(rotation) and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

IDENTIFIER = "abcdefghijklmnopqrstuvwxyz0123456789_"


@dataclass(frozen=True)
class ServiceDatabase:
    """A service's user, its password and the database it alone may use."""

    user: str
    password: str
    database: str

    def __post_init__(self) -> None:
        for name in (self.user, self.database):
            if not name or not set(name) <= set(IDENTIFIER) or name[0].isdigit():
                raise ValueError(f"database and user names are lower-case identifiers, got {name!r}")
        if len(self.password) < 16:
            raise ValueError(f"the password of database user {self.user!r} is shorter than 16 characters")


def set_up(connect: Any, services: list[ServiceDatabase]) -> list[str]:
    """Users, databases and privileges for ``services``; ``connect(database)`` opens a connection as the master
    user. Returns what was done, one line each (never a password)."""
    if len({s.user for s in services}) != len(services) or len({s.database for s in services}) != len(services):
        raise ValueError("each service needs a user and a database of its own")
    done = []
    with _autocommit(connect("postgres")) as cursor:
        cursor.execute("SELECT current_user")
        admin = cursor.fetchone()[0]
        for service in services:
            user, database = sql.Identifier(service.user), sql.Identifier(service.database)
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (service.user,))
            verb = "updated" if cursor.fetchone() else "created"
            if verb == "created":
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(user))
            cursor.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD %s").format(user), (service.password,))
            # the master user may then hand it what it owns (RDS's master user is not a superuser)
            cursor.execute(sql.SQL("GRANT {} TO {}").format(user, sql.Identifier(admin)))
            done.append(f"user {service.user} {verb}")
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (service.database,))
            if not cursor.fetchone():
                cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, user))
                done.append(f"database {service.database} created")
            cursor.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, user))  # the master: CREATEDB
            cursor.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            done.append(f"database {service.database}: owned by {service.user}, no CONNECT for others")
    for service in services:
        with _autocommit(connect(service.database)) as cursor:
            moved = _hand_over(cursor, admin, service.user)
        if moved:
            done.append(f"database {service.database}: {moved} objects the master user created now {service.user}'s")
    return done


def _hand_over(cursor: Any, admin: str, user: str) -> int:
    """Give ``user`` the tables, views and sequences ``admin`` created in the public schema (a service that ran as
    the master user before). Tables first: a sequence a table owns (a serial column) moves with it, and may not be
    moved on its own."""
    moved = 0
    for kinds, keyword in ((("r", "p", "v", "m"), "TABLE"), (("S",), "SEQUENCE")):
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = ANY(%s) AND pg_get_userbyid(c.relowner) = %s "
            "ORDER BY c.relname",
            (list(kinds), admin),
        )
        for (name,) in cursor.fetchall():
            # ALTER TABLE also moves views and materialized views; sequences still the master's are free-standing
            statement = sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(keyword), sql.Identifier("public", name), sql.Identifier(user)
            )
            cursor.execute(statement)
            moved += 1
    return moved


class _autocommit:
    """A cursor on ``connection`` in autocommit mode (CREATE DATABASE cannot run in a transaction); closes both."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.connection.autocommit = True

    def __enter__(self) -> Any:
        self.cursor = self.connection.cursor()
        return self.cursor

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()
        self.connection.close()
