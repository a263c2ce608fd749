"""How the engine sets DBOS up: its configuration, SQLite engine, logs, a replica's default id."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from dbos import DBOSConfig, DBOSPortableJSONSerializer
from sqlalchemy.engine import make_url

from ..storage import configure_sqlite, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "DBOS_SCHEMA",
    "JSONSerializer",
    "dbos_config",
    "dbos_database_url",
    "fresh_executor_id",
    "route_dbos_logs",
    "sqlite_system_engine",
]


# DBOS's schema in a PostgreSQL system database (its default; the configuration names
# no other)
DBOS_SCHEMA = "dbos"


class JSONSerializer(DBOSPortableJSONSerializer):
    """DBOS's portable JSON, written the same, faster for what the engine records.

    Step results and workflow inputs are plain JSON already (the engine dumps
    them with ``mode="json"``): ``json.dumps`` encodes them in C, where DBOS's
    own serializer first copies each value in Python to convert dates, sets and
    decimals. Anything ``json`` cannot encode as is goes that way still.
    """

    def serialize(self, value: Any) -> str:
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        except (TypeError, ValueError):
            return super().serialize(value)


def dbos_config(
    database_url: str,
    *,
    app_version: str,
    executor_id: str,
    poll_interval: float,
    scheduler_poll_interval: float,
    executor_threads: int,
) -> DBOSConfig:
    """DBOS's configuration for the project database at ``database_url``."""
    system_url = dbos_database_url(database_url)
    config: DBOSConfig = {
        "name": "ascent",
        "system_database_url": system_url,
        "application_version": app_version,
        "executor_id": executor_id,
        "serializer": JSONSerializer(),
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": poll_interval,
        "scheduler_polling_interval_sec": scheduler_poll_interval,
        "max_executor_threads": executor_threads,
    }
    if database_url.startswith("sqlite"):
        config["system_database_engine"] = sqlite_system_engine(system_url)
    else:
        # DBOS retries its operations when a connection turns out dead, so the
        # ping before each use (a round trip, a dozen per run) buys nothing.
        config["db_engine_kwargs"] = {"pool_pre_ping": False}
    return config


def dbos_database_url(url: str) -> str:
    """Where DBOS keeps its tables: on PostgreSQL the project database itself (in
    DBOS's own schema); on SQLite a file of its own beside the project's
    (``ascent.db`` -> ``ascent-dbos.db``).

    SQLite lets one writer at a time into a file, and a writer that finds the
    file locked sleeps a millisecond or more before it tries again. In one file,
    a run's own writes (its record, its events) kept colliding with DBOS's
    checkpoints of the step before; in two, they do not wait for each other.
    """
    path = sqlite_path(url)
    if path is None:
        return url
    own = make_url(url).set(database=str(path.with_name(f"{path.stem}-dbos{path.suffix}")))
    return own.render_as_string(hide_password=False)


def sqlite_system_engine(url: str) -> Engine:
    """DBOS's engine for a SQLite file, as DBOS makes it (immediate transactions, a
    long busy timeout), plus WAL with ``synchronous=NORMAL``: a commit does not wait
    for the disk, and a killed process still loses nothing committed (only a power
    loss can take the last commits back)."""
    from sqlalchemy import create_engine, event

    engine = create_engine(url, pool_size=20, max_overflow=0, pool_timeout=30)

    def configure(connection: Any, _record: Any) -> None:
        connection.isolation_level = "IMMEDIATE"
        configure_sqlite(connection, busy_ms=30_000)
        connection.execute("PRAGMA foreign_keys = ON")

    event.listen(engine, "connect", configure)
    return engine


def route_dbos_logs() -> None:
    """Let DBOS's log records go where the application's logging sends them.

    With no handler of its own, DBOS would add a console handler bound to the
    ``sys.stderr`` of that moment, and stop propagating to the root logger.
    """
    dbos_logger = logging.getLogger("dbos")
    if not dbos_logger.handlers:
        dbos_logger.addHandler(logging.NullHandler())


def fresh_executor_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
