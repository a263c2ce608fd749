"""Model calls reuse their connections: httpx's pool, and the service's client
(aiohttp's pool for the loop, closed when the block ends)."""

from __future__ import annotations

import contextlib

import openai
import pytest

from ascent.errors import ModelAPIError
from ascent.models import ResponseCompleted, default_openai_client, serving_openai_client
from ascent.models._retry import RetryPolicy
from ascent.models.openai_chat import OpenAIChatModel
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.testing.mock_openai import MockOpenAIServer, Reply

from .conftest import ask


@pytest.fixture
def environment(mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


@pytest.mark.usefixtures("environment")
async def test_inside_the_block_providers_share_an_aiohttp_client_closed_after():
    outside = default_openai_client()
    async with serving_openai_client():
        client = default_openai_client()
        assert client is not outside and default_openai_client() is client
        assert isinstance(client._client, openai.DefaultAioHttpClient)
        assert client.max_retries == 0  # one retry policy: ours
        async with serving_openai_client():  # a second service on the loop shares it
            assert default_openai_client() is client
        assert not client.is_closed()
    assert client.is_closed()
    assert default_openai_client() is outside


async def test_the_client_is_made_on_first_use(monkeypatch: pytest.MonkeyPatch):
    """A service on the offline model starts with no key and no base URL."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with serving_openai_client():
        pass


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("provider", [OpenAIChatModel, OpenAIResponsesModel])
@pytest.mark.parametrize("pool", ["httpx", "aiohttp"])
async def test_a_finished_stream_hands_its_connection_back(
    provider: type[OpenAIChatModel | OpenAIResponsesModel],
    pool: str,
    openai_client: openai.AsyncOpenAI,
    mock_openai: MockOpenAIServer,
):
    """Three streamed calls, one connection: the rest of each answer's body is
    read, so the connection goes back to the pool instead of being dropped."""
    mock_openai.add(Reply(text="one"), Reply(text="two"), Reply(text="three"))
    async with contextlib.AsyncExitStack() as stack:
        if pool == "aiohttp":  # the loop's default client, as the service has it
            await stack.enter_async_context(serving_openai_client())
            model = provider(model="mock")
        else:
            model = provider(model="mock", client=openai_client)
        for _ in range(3):
            events = [event async for event in model.stream(ask())]
            assert isinstance(events[-1], ResponseCompleted)
    clients = {request.client for request in mock_openai.requests}
    assert len(clients) == 1 and None not in clients


@pytest.mark.usefixtures("environment")
async def test_server_errors_through_aiohttp_are_retried_then_reported(
    mock_openai: MockOpenAIServer,
):
    """aiohttp's transport raises what httpx would, so errors are classified alike."""

    async def no_wait(_seconds: float) -> None:
        return None

    mock_openai.add_error(500, "boom").add_error(500, "boom")
    model = OpenAIChatModel(model="mock", retry=RetryPolicy(max_attempts=2, sleep=no_wait))
    async with serving_openai_client():
        with pytest.raises(ModelAPIError, match="boom"):
            await model.respond(ask())
    assert len(mock_openai.requests) == 2
