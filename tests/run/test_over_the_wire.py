"""Whole runs through the real ``openai`` client against the local mock server.

The same agent runs over Chat Completions and the Responses API, plain and
streamed, and reaches the same outcome; configuration from the environment
alone (``OPENAI_BASE_URL``) selects the real provider.
"""

from __future__ import annotations

import json
import time

import openai
import pytest
from pydantic import BaseModel

from ascent import (
    Agent,
    FunctionCallOutput,
    ModelAPIError,
    RunConfig,
    Runner,
    RunTimeoutError,
    function_tool,
)
from ascent.models._retry import RetryPolicy
from ascent.models.openai_chat import OpenAIChatModel
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.run.events import TextDeltaEvent
from ascent.testing.mock_openai import (
    BrokenStream,
    Delay,
    HTTPError,
    MockOpenAIServer,
    Reply,
    ToolCall,
)


@function_tool
def get_order(order_id: str) -> dict[str, str]:
    """Look up an order by id."""
    return {"order_id": order_id, "status": "shipped"}


class Summary(BaseModel):
    order_id: str
    status: str


async def _no_sleep(seconds: float) -> None:
    return None


def _models(client: openai.AsyncOpenAI) -> dict[str, object]:
    retry = RetryPolicy(sleep=_no_sleep)
    return {
        "chat": OpenAIChatModel(model="mock", client=client, retry=retry),
        "responses": OpenAIResponsesModel(model="mock", client=client, retry=retry),
    }


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_tool_run_over_the_wire(
    api: str, streamed: bool, openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(
        Reply(tool_calls=[ToolCall(name="get_order", arguments={"order_id": "A-7"})]),
        Reply(text='{"order_id": "A-7", "status": "shipped"}'),
    )
    agent = Agent(
        name="support",
        model=_models(openai_client)[api],  # type: ignore[arg-type]
        instructions="Be brief.",
        tools=[get_order],
        output_type=Summary,
    )
    if streamed:
        run = Runner.run_streamed(agent, "status of A-7?")
        deltas = [e.delta async for e in run.stream_events() if isinstance(e, TextDeltaEvent)]
        result = run.result
        assert "".join(deltas) == '{"order_id": "A-7", "status": "shipped"}'
    else:
        result = await Runner.run(agent, "status of A-7?")
    assert result.final_output == Summary(order_id="A-7", status="shipped")
    output = next(i for i in result.new_items if isinstance(i, FunctionCallOutput))
    assert json.loads(output.output) == {"order_id": "A-7", "status": "shipped"}
    assert result.usage.requests == 2 and result.usage.input_tokens == 20

    first, second = mock_openai.requests
    assert first.api == api and first.stream is streamed
    if api == "chat":
        assert first.body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert first.body["tools"][0]["function"]["name"] == "get_order"
        assert first.body["response_format"]["type"] == "json_schema"
        assert second.body["messages"][-1]["role"] == "tool"
    else:
        assert first.body["instructions"] == "Be brief."
        assert first.body["tools"][0]["name"] == "get_order"
        assert first.body["text"]["format"]["type"] == "json_schema"
        assert second.body["input"][-1]["type"] == "function_call_output"
        # local fields never reach the provider
        assert all("agent" not in item for item in second.body["input"])


async def test_a_failing_provider_is_retried_then_reported(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(
        HTTPError(status=429, message="slow down", retry_after=0.01),
        HTTPError(status=500, message="boom"),
        Reply(text="finally"),
    )
    agent = Agent(name="a", model=_models(openai_client)["chat"])  # type: ignore[arg-type]
    assert (await Runner.run(agent, "x")).final_output == "finally"

    mock_openai.add(*[HTTPError(status=503, message="down for maintenance")] * 4)
    with pytest.raises(ModelAPIError, match="down for maintenance") as info:
        await Runner.run(agent, "x")
    assert info.value.status_code == 503 and info.value.attempts == 4


async def test_environment_alone_selects_the_openai_compatible_server(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ASCENT_MODEL", "openai-chat:llama-test")
    mock_openai.add(Reply(text="served by the local server"))
    result = await Runner.run(Agent(name="a"), "hello")
    assert result.final_output == "served by the local server"
    assert mock_openai.requests[0].body["model"] == "llama-test"
    assert result.usage.by_model.keys() == {"openai-chat:llama-test"}


def test_run_sync_repeatedly_with_a_named_model(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run_sync has its own event loop; the default client must follow it."""
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    agent = Agent(name="a", model="openai-chat:loop-test")
    for n in range(3):
        mock_openai.add(Reply(text=f"answer {n}"))
        assert Runner.run_sync(agent, "x").final_output == f"answer {n}"


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_a_stream_cut_mid_answer_is_asked_again_and_the_run_completes(
    api: str, openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    # cut once a few words are out (the Responses API opens with non-text events)
    after = 3 if api == "chat" else 7
    mock_openai.add(
        BrokenStream(reply=Reply(text="Your order is on its way and"), after=after),
        Reply(text="Your order A-7 has shipped."),
    )
    agent = Agent(name="support", model=_models(openai_client)[api])  # type: ignore[arg-type]
    streaming = Runner.run_streamed(agent, "Where is A-7?")
    kinds = [event.type async for event in streaming.stream_events()]

    assert streaming.final_output == "Your order A-7 has shipped."
    assert "response_discarded" in kinds  # clients drop the text streamed before the cut
    cut = kinds.index("response_discarded")
    assert "text_delta" in kinds[:cut] and "text_delta" in kinds[cut:]
    assert len(mock_openai.requests) == 2


async def test_a_model_that_never_answers_fails_the_run_at_its_deadline(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(*[Delay(seconds=5.0) for _ in range(4)])
    agent = Agent(name="support", model=_models(openai_client)["chat"])  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(RunTimeoutError, match=r"more than 0\.5s"):
        await Runner.run(agent, "Hello?", run_config=RunConfig(run_timeout=0.5))
    assert time.monotonic() - started < 3  # not the client's own 5 s, nor four of them


async def test_a_per_call_timeout_from_the_run_config_bounds_each_attempt(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(Delay(seconds=3.0), Reply(text="made it"))
    agent = Agent(name="support", model=_models(openai_client)["chat"])  # type: ignore[arg-type]
    result = await Runner.run(agent, "Hello?", run_config=RunConfig(model_timeout=0.3))
    assert result.final_output == "made it"
    assert len(mock_openai.requests) == 2  # the first attempt timed out and was retried
