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
