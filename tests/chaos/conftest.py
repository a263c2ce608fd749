"""Fixtures of the chaos tests: the seed (printed); the databases and engine processes
of tests/durable; the service, in a process of its own, for the whole package."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ascent.testing.mock_openai import MockOpenAIServer
from ascent.testing.postgres import PostgresServer
from tests.durable.conftest import postgres_url, sqlite_url, workers

from ._harness import SEED_ENV, Service, chaos_seed

__all__ = ["postgres_url", "seed", "service", "sqlite_url", "workers"]


@pytest.fixture
def seed() -> int:
    """The RNG seed of the test: ``ASCENT_CHAOS_SEED``, else a fresh one (printed)."""
    value = chaos_seed()
    print(f"chaos seed: {value} (repeat with {SEED_ENV}={value})")
    return value


@pytest.fixture(scope="package")
def service(
    postgres_server: PostgresServer,
    _mock_openai_session: MockOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """``ascent serve`` of tests/chaos/_app.py on PostgreSQL, its model the suite's mock
    server (a test sets its responder through ``mock_openai``)."""
    url = postgres_server.create_database(f"chaos_{uuid.uuid4().hex[:12]}")
    log = tmp_path_factory.mktemp("service") / "service.log"
    with Service(database_url=url, model_url=_mock_openai_session.base_url, log=log) as served:
        yield served
