"""Session stores for the memory tests: SQLite, a real PostgreSQL, a real Redis, memory.

The PostgreSQL and Redis servers (tests/conftest.py) start once per test session
on free loopback ports; each test gets a fresh database (PostgreSQL) or a fresh
key (Redis). With ``CI=true`` nothing skips: a missing server is an error there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ascent.memory import InMemorySession, RedisSession, Session, open_session
from ascent.memory._vectors import dispose_vector_engines
from ascent.storage import dispose_engines
from ascent.testing.postgres import PostgresServer
from ascent.testing.redis import RedisServer

SessionFactory = Callable[..., Session]


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    yield postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")
    dispose_engines()
    dispose_vector_engines()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'ascent.db'}"
    dispose_engines()
    dispose_vector_engines()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def memory_url() -> str:
    return "memory://"


@pytest.fixture(params=["sqlite", "postgres", "redis", "memory"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_session(
    request: pytest.FixtureRequest, backend: str
) -> AsyncIterator[SessionFactory]:
    """Opens sessions with unique ids on the test's backend, and closes Redis clients after."""
    url = str(request.getfixturevalue(f"{backend}_url"))
    opened: list[Session] = []
    memory: dict[str, InMemorySession] = {}  # memory:// sessions are shared per id here
    prefix = uuid.uuid4().hex[:8]

    def make(name: str = "s", *, ttl: float | None = None) -> Session:
        session_id = f"{prefix}-{name}"
        if backend == "memory":
            return memory.setdefault(session_id, InMemorySession(session_id))
        session = open_session(session_id, url, ttl=ttl)
        opened.append(session)
        return session

    yield make
    for session in opened:
        if isinstance(session, RedisSession):
            await session.aclose()
