"""Pooled PostgreSQL connections are checked before use only after sitting idle.

A connection killed while it waited in the pool is replaced when it had been
idle long enough to be checked; one back in use sooner is used unchecked (no
round trip per transaction), so its death surfaces as the query's error.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ascent import storage
from ascent.storage import dispose_engines, get_engine, ping_when_idle
from ascent.testing.postgres import PostgresServer


def _engine(url: str, idle: float) -> Engine:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle=idle)
    return engine


def _kill_pooled(engine: Engine, url: str) -> None:
    """Terminate the backend of the engine's one pooled connection, from outside."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = create_engine(url, poolclass=None)
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")


def test_an_idle_connection_killed_in_the_pool_is_replaced(url: str) -> None:
    engine = _engine(url, idle=0.0)
    try:
        _kill_pooled(engine, url)
        with engine.connect() as conn:  # the ping finds it dead: a fresh one is used
            assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
    finally:
        engine.dispose()


def test_a_connection_in_recent_use_is_not_pinged(url: str) -> None:
    engine = _engine(url, idle=3600.0)
    try:
        _kill_pooled(engine, url)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:  # the pool dropped the dead one
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_shared_engine_pings_idle_connections(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "IDLE_PING_SECONDS", 0.0)
    engine = get_engine(url)
    try:
        _kill_pooled(engine, url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar_one() == 2
    finally:
        dispose_engines()
