"""Fixtures for provider tests: clients of the shared mock server, a fake sleep; ``ask``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from ascent.items import Message
from ascent.models import ModelRequest
from ascent.models._retry import RetryPolicy
from ascent.testing.mock_openai import MockOpenAIServer


def ask(text: str = "Hi", **kwargs: Any) -> ModelRequest:
    """A request with one user message (instructions "Be brief." unless given)."""
    return ModelRequest(
        instructions=kwargs.pop("instructions", "Be brief."),
        input=[Message(role="user", content=text)],
        **kwargs,
    )


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the retry policy asked for (nothing actually waits)."""
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RetryPolicy(sleep=fake_sleep)


@pytest.fixture
async def slow_client(mock_openai: MockOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """A client that gives up after 0.2 s, for timeout tests."""
    client = openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="test-key", timeout=0.2)
    yield client
    await client.close()
