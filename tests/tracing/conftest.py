"""Databases for the trace store tests: a temporary SQLite file, and a real PostgreSQL.

The PostgreSQL server starts once per test session (about a second) on a free
loopback port; each test gets a fresh, empty database on it. With ``CI=true``
these tests never skip: a missing or broken PostgreSQL is an error there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ascent.storage import dispose_engines
from ascent.testing.postgres import PostgresServer


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    url = postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")
    yield url
    dispose_engines()  # release pooled connections to this database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite database file in the test's temporary folder (created on first write)."""
    yield f"sqlite:///{tmp_path / 'ascent.db'}"
    dispose_engines()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))
