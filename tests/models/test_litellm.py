"""The LiteLLM provider, through LiteLLM's ``openai/<model>`` route to the mock server."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ascent.errors import ModelAPIError, ProviderCapabilityError
from ascent.items import FunctionCall, Message
from ascent.models import (
    FunctionToolSpec,
    HostedToolSpec,
    ModelRequest,
    ModelSettings,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
)
from ascent.models._retry import RetryPolicy
from ascent.models.litellm import LiteLLMModel, create
from ascent.testing.mock_openai import HTTPError, MockOpenAIServer, Reply, ToolCall

# LiteLLM's own internals: logging tasks outliving the test's loop, Pydantic deprecations.
pytestmark = [
    pytest.mark.filterwarnings("ignore:coroutine 'Logging.async_success_handler':RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

LOOKUP = FunctionToolSpec(
    name="lookup",
    description="Look a word up.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}},
)


def ask(text: str = "Hi", **kwargs: Any) -> ModelRequest:
    return ModelRequest(
        instructions="Answer briefly.", input=[Message(role="user", content=text)], **kwargs
    )


@pytest.fixture
def model(mock_openai: MockOpenAIServer, retry: RetryPolicy) -> LiteLLMModel:
    return LiteLLMModel(
        model="openai/mock-gpt", api_base=mock_openai.base_url, api_key="test-key", retry=retry
    )


def test_cost_map_is_local_and_names() -> None:
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    model = create("anthropic/claude-sonnet-4")
    assert model.name == "litellm:anthropic/claude-sonnet-4"
    assert model.supports_hosted_tools is False


async def test_text_reply(model: LiteLLMModel, mock_openai: MockOpenAIServer):
    mock_openai.add_text("Hello from LiteLLM", input_tokens=15, output_tokens=3)

    response = await model.respond(
        ask(settings=ModelSettings(temperature=0.3, max_tokens=50, extra_headers={"X-Run": "1"}))
    )

    [message] = response.output
    assert isinstance(message, Message) and message.text == "Hello from LiteLLM"
    assert (response.usage.requests, response.usage.input_tokens) == (1, 15)
    assert response.usage.output_tokens == 3
    received = mock_openai.requests[0]
    assert received.path == "/v1/chat/completions"
    assert received.body["model"] == "mock-gpt"
    assert received.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Hi"},
    ]
    assert (received.body["temperature"], received.body["max_tokens"]) == (0.3, 50)
    assert received.headers["x-run"] == "1"
    assert received.headers["authorization"] == "Bearer test-key"


async def test_tool_calls_and_streaming(model: LiteLLMModel, mock_openai: MockOpenAIServer):
    reply = Reply(
        text="Looking up.",
        tool_calls=[
            ToolCall(name="lookup", arguments={"word": "ascent"}, call_id="call_1"),
            ToolCall(name="lookup", arguments={"word": "agent"}, call_id="call_2"),
        ],
    )
    mock_openai.add(reply, reply)
    request = ask(tools=[LOOKUP])

    expected = await model.respond(request)
    events = [event async for event in model.stream(request)]

    calls = [item for item in expected.output if isinstance(item, FunctionCall)]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        ("call_1", "lookup", '{"word": "ascent"}'),
        ("call_2", "lookup", '{"word": "agent"}'),
    ]
    assert mock_openai.requests[1].body["stream"] is True
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == "Looking up."
    arguments = [e for e in events if isinstance(e, ToolCallArgumentsDelta)]
    assert "".join(e.delta for e in arguments if e.call_id == "call_2") == '{"word": "agent"}'
    assert isinstance(events[-1], ResponseCompleted)
    assert events[-1].response.output == expected.output


async def test_rate_limit_is_retried_with_retry_after(
    model: LiteLLMModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(HTTPError(status=429, message="Too many requests", retry_after=3))
    mock_openai.add_text("ok")

    response = await model.respond(ask())

    assert response.output[0].text == "ok"  # type: ignore[union-attr]
    assert sleeps == [3.0]
    assert len(mock_openai.requests) == 2


async def test_bad_request_is_not_retried(model: LiteLLMModel, mock_openai: MockOpenAIServer):
    mock_openai.add_error(400, "Unknown parameter: foo").add_text("unused")

    with pytest.raises(ModelAPIError) as caught:
        await model.respond(ask())

    assert (caught.value.status_code, caught.value.attempts) == (400, 1)
    assert "Unknown parameter: foo" in caught.value.message
    assert len(mock_openai.requests) == 1


async def test_server_errors_exhaust_retries(
    model: LiteLLMModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    for _ in range(4):
        mock_openai.add_error(500, "Internal trouble")

    with pytest.raises(ModelAPIError) as caught:
        await model.respond(ask())

    assert (caught.value.status_code, caught.value.attempts) == (500, 4)
    assert len(mock_openai.requests) == 4  # LiteLLM's own retries stay off
    assert len(sleeps) == 3


async def test_hosted_tools_are_refused(model: LiteLLMModel, mock_openai: MockOpenAIServer):
    with pytest.raises(ProviderCapabilityError):
        await model.respond(ask(tools=[HostedToolSpec(kind="web_search")]))
    assert mock_openai.requests == []
