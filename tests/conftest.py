"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ascent.testing.mock_openai import MockOpenAIServer


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


@pytest.fixture(autouse=True, scope="session")
def _project_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the suite's traces (and any default database use) out of the working tree."""
    import os

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
