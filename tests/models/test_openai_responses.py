"""The Responses API provider, over the wire against the local mock server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import openai
import pytest

from ascent.errors import ModelAPIError
from ascent.items import (
    FunctionCall,
    FunctionCallOutput,
    InputText,
    Message,
    ProviderItem,
    Reasoning,
    input_to_items,
)
from ascent.models import (
    FunctionToolSpec,
    HostedToolSpec,
    ModelRequest,
    ModelSettings,
    OutputSpec,
    ReasoningDelta,
    ResponseCompleted,
    StreamRestarted,
    TextDelta,
    ToolCallArgumentsDelta,
)
from ascent.models._retry import RetryPolicy
from ascent.models.openai_responses import (
    OpenAIResponsesModel,
    build_params,
    create,
    parse_response,
)
from ascent.testing.mock_openai import (
    BrokenStream,
    Delay,
    HTTPError,
    Malformed,
    MockOpenAIServer,
    Reply,
    ToolCall,
)

from .conftest import ask

WEATHER = FunctionToolSpec(
    name="get_weather",
    description="Weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
WEB_SEARCH_CALL = {
    "type": "web_search_call",
    "id": "ws_123",
    "status": "completed",
    "action": {"type": "search", "query": "ascent agents"},
}


@pytest.fixture
def model(openai_client: openai.AsyncOpenAI, retry: RetryPolicy) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(model="gpt-test", client=openai_client, retry=retry)


def without_ids(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude={"id"}) for item in items]


# ------------------------------------------------------------------ answers


async def test_text_reply_and_usage(model: OpenAIResponsesModel, mock_openai: MockOpenAIServer):
    mock_openai.add_text(
        "Hello there!", input_tokens=42, output_tokens=7, cached_tokens=30, reasoning_tokens=3
    )

    response = await model.respond(ask("Hi"))

    [message] = response.output
    assert isinstance(message, Message)
    assert message.role == "assistant"
    assert message.text == "Hello there!"
    assert message.id is not None and message.id.startswith("msg_")
    assert response.response_id is not None and response.response_id.startswith("resp_")
    usage = response.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (1, 42, 7)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (30, 3)

    [received] = mock_openai.requests
    assert received.path == "/v1/responses"
    assert received.body["model"] == "gpt-test"
    assert received.body["instructions"] == "Be brief."
    assert received.body["input"] == [{"type": "message", "role": "user", "content": "Hi"}]
    assert received.body["store"] is False
    assert "stream" not in received.body or received.body["stream"] is False
    assert received.headers["authorization"] == "Bearer test-key"


async def test_parallel_tool_calls(model: OpenAIResponsesModel, mock_openai: MockOpenAIServer):
    mock_openai.add_tool_calls(
        ToolCall(name="get_weather", arguments={"city": "Paris"}, call_id="call_a"),
        ToolCall(name="get_weather", arguments='{"city": "Oslo"}', call_id="call_b"),
    )

    response = await model.respond(ask("Weather?", tools=[WEATHER]))

    calls = response.output
    assert all(isinstance(call, FunctionCall) for call in calls)
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_weather", '{"city": "Oslo"}'),
    ]


async def test_reasoning_item(model: OpenAIResponsesModel, mock_openai: MockOpenAIServer):
    mock_openai.add(Reply(reasoning="Think first.", text="Done."))

    response = await model.respond(ask())

    reasoning, message = response.output
    assert isinstance(reasoning, Reasoning)
    assert reasoning.text == "Think first."
    assert isinstance(message, Message) and message.text == "Done."


async def test_hosted_tool_call_comes_back_as_provider_item_and_round_trips(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer
):
    mock_openai.add(Reply(items=[WEB_SEARCH_CALL], text="Found it."))
    mock_openai.add_text("Thanks.")
    request = ask(
        "Search", tools=[HostedToolSpec(kind="web_search", config={"search_context_size": "low"})]
    )

    response = await model.respond(request)

    hosted, message = response.output
    assert isinstance(hosted, ProviderItem)
    assert hosted.wire() == WEB_SEARCH_CALL
    assert isinstance(message, Message)
    assert mock_openai.requests[0].body["tools"] == [
        {"type": "web_search", "search_context_size": "low"}
    ]

    follow_up = ModelRequest(instructions=None, input=[*request.input, *response.output])
    await model.respond(follow_up)
    sent = mock_openai.requests[1].body["input"]
    assert sent[1] == WEB_SEARCH_CALL
    assert sent[2]["type"] == "message" and sent[2]["role"] == "assistant"
    assert "instructions" not in mock_openai.requests[1].body


async def test_input_items_go_out_as_wire_dicts(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer
):
    mock_openai.add_text("ok")
    items = [
        Message(role="user", content=[InputText(text="What's the weather?")], agent="triage"),
        FunctionCall(call_id="c1", name="get_weather", arguments='{"city":"Paris"}', agent="a"),
        FunctionCallOutput(call_id="c1", output="sunny", agent="a", tool_name="get_weather"),
    ]

    await model.respond(ModelRequest(instructions=None, input=items))

    question = {"type": "input_text", "text": "What's the weather?"}
    call = {"call_id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert mock_openai.requests[0].body["input"] == [
        {"type": "message", "role": "user", "content": [question]},
        {"type": "function_call", **call},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]


async def test_request_mapping(model: OpenAIResponsesModel, mock_openai: MockOpenAIServer):
    mock_openai.add_text('{"answer": 4}')
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    settings = ModelSettings(
        temperature=0.2,
        top_p=0.9,
        max_tokens=256,
        tool_choice="get_weather",
        parallel_tool_calls=False,
        reasoning_effort="low",
        extra_body={"service_tier": "flex"},
        extra_headers={"X-Trace": "abc"},
    )
    request = ask(
        "2+2?", tools=[WEATHER], output=OutputSpec(name="Sum", schema=schema), settings=settings
    )

    await model.respond(request)

    received = mock_openai.requests[0]
    body = received.body
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": WEATHER.parameters,
            "strict": True,
        }
    ]
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "Sum", "schema": schema, "strict": True}
    }
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["max_output_tokens"] == 256
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["parallel_tool_calls"] is False
    assert body["reasoning"] == {"effort": "low"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["service_tier"] == "flex"
    assert received.headers["x-trace"] == "abc"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("required", "required"), ("none", "none"), ("web_search", {"type": "web_search"})],
)
async def test_tool_choice_forms(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, choice: str, expected: Any
):
    mock_openai.add_text("ok")
    tools = [WEATHER, HostedToolSpec(kind="web_search")]

    await model.respond(ask(tools=tools, settings=ModelSettings(tool_choice=choice)))

    assert mock_openai.requests[0].body["tool_choice"] == expected


@pytest.mark.parametrize(
    ("name", "included"),
    [("o4-mini", True), ("gpt-5", True), ("gpt-5-chat-latest", False), ("gpt-4.1", False)],
)
def test_encrypted_reasoning_is_requested_from_reasoning_models(name: str, included: bool):
    assert ("include" in build_params(name, ask())) is included
    with_effort = build_params(name, ask(settings=ModelSettings(reasoning_effort="minimal")))
    assert with_effort["include"] == ["reasoning.encrypted_content"]


def test_reasoning_without_encrypted_content_is_left_out_of_the_input():
    summary = [{"type": "summary_text", "text": "thinking"}]
    items = [
        Message(role="user", content="Hi"),
        Reasoning(id="rs_1", summary=summary),
        Reasoning(id="rs_2", summary=summary, encrypted_content="gAAAA"),
        Message.assistant("Hello", id="msg_1"),
    ]

    sent = build_params("o4-mini", ModelRequest(instructions=None, input=items))["input"]

    assert [item["type"] for item in sent] == ["message", "reasoning", "message"]
    assert sent[1] == {
        "type": "reasoning",
        "id": "rs_2",
        "summary": summary,
        "encrypted_content": "gAAAA",
    }


# ---------------------------------------------------------------- streaming


async def test_stream_deltas_in_order_and_same_response_as_respond(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer
):
    reply = Reply(
        reasoning="Let me think.",
        text="Two calls coming up.",
        tool_calls=[
            ToolCall(name="get_weather", arguments={"city": "Paris"}, call_id="call_p"),
            ToolCall(name="get_weather", arguments={"city": "Rome"}, call_id="call_r"),
        ],
        input_tokens=12,
        output_tokens=9,
    )
    mock_openai.add(reply, reply)
    request = ask("Weather?", tools=[WEATHER])

    events = [event async for event in model.stream(request)]
    expected = await model.respond(request)

    assert mock_openai.requests[0].body["stream"] is True
    assert isinstance(events[-1], ResponseCompleted)
    assert not any(isinstance(e, ResponseCompleted) for e in events[:-1])
    reasoning = [e.delta for e in events if isinstance(e, ReasoningDelta)]
    text = [e.delta for e in events if isinstance(e, TextDelta)]
    args = [e for e in events if isinstance(e, ToolCallArgumentsDelta)]
    assert "".join(reasoning) == "Let me think."
    assert len(text) > 1 and "".join(text) == "Two calls coming up."
    assert {(e.call_id, e.name) for e in args} == {
        ("call_p", "get_weather"),
        ("call_r", "get_weather"),
    }
    assert "".join(e.delta for e in args if e.call_id == "call_p") == '{"city": "Paris"}'
    kinds = [type(e).__name__ for e in events]
    assert (
        kinds.index("ReasoningDelta")
        < kinds.index("TextDelta")
        < kinds.index("ToolCallArgumentsDelta")
    )

    streamed = events[-1].response
    assert without_ids(streamed.output) == without_ids(expected.output)
    assert streamed.usage == expected.usage
    assert streamed.usage.input_tokens == 12


async def test_stream_retries_before_the_first_event(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(HTTPError(status=429, message="slow down", retry_after=2), Malformed())
    mock_openai.add_text("Finally.")

    events = [event async for event in model.stream(ask())]

    assert isinstance(events[-1], ResponseCompleted)
    assert events[-1].response.output[0].text == "Finally."  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 3
    assert sleeps[0] == 2.0


async def test_a_stream_broken_after_its_first_event_is_asked_again(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(BrokenStream(reply=Reply(text="one two three four five"), after=5))
    mock_openai.add_text("whole answer")

    seen = [event async for event in model.stream(ask())]

    restart = next(i for i, e in enumerate(seen) if isinstance(e, StreamRestarted))
    assert [e.delta for e in seen[:restart]] == ["one "]
    final = seen[-1]
    assert isinstance(final, ResponseCompleted)
    assert final.response.output[-1].text == "whole answer"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 2


# ------------------------------------------------------------------ retries


async def test_retries_429_honouring_retry_after(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add_error(429, "Rate limit reached", retry_after=7)
    mock_openai.add_error(429, "Rate limit reached", retry_after_ms=1500)
    mock_openai.add_text("ok")

    response = await model.respond(ask())

    assert response.output[0].text == "ok"  # type: ignore[union-attr]
    assert sleeps == [7.0, 1.5]
    assert len(mock_openai.requests) == 3


async def test_retry_after_is_capped(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(max_retry_after=5.0, sleep=fake_sleep)
    model = OpenAIResponsesModel(model="m", client=openai_client, retry=policy)
    mock_openai.add_error(429, retry_after=3600).add_text("ok")

    await model.respond(ask())

    assert sleeps == [5.0]


@pytest.mark.parametrize(
    "failure",
    [HTTPError(status=500, message="boom"), HTTPError(status=503), Malformed(), BrokenStream()],
    ids=["500", "503", "malformed-json", "dropped-connection"],
)
async def test_retries_transient_failures(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float], failure: Any
):
    mock_openai.add(failure).add_text("recovered")

    response = await model.respond(ask())

    assert response.output[0].text == "recovered"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


async def test_retries_timeouts(
    slow_client: openai.AsyncOpenAI, retry: RetryPolicy, mock_openai: MockOpenAIServer
):
    model = OpenAIResponsesModel(model="m", client=slow_client, retry=retry)
    mock_openai.add(Delay(seconds=1.0)).add_text("in time")

    response = await model.respond(ask())

    assert response.output[0].text == "in time"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float], status: int
):
    mock_openai.add_error(status, f"Nope ({status})").add_text("unused")

    with pytest.raises(ModelAPIError) as caught:
        await model.respond(ask())

    error = caught.value
    assert error.status_code == status
    assert error.message == f"Nope ({status})"
    assert error.attempts == 1
    assert not error.retryable
    assert error.provider == "openai:gpt-test"
    assert sleeps == []
    assert len(mock_openai.requests) == 1


async def test_error_after_retries_are_exhausted(
    model: OpenAIResponsesModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    for _ in range(4):
        mock_openai.add_error(503, "The engine is overloaded")
    mock_openai.add_text("unused")

    with pytest.raises(ModelAPIError) as caught:
        await model.respond(ask())

    error = caught.value
    assert (error.status_code, error.attempts) == (503, 4)
    assert error.message == "The engine is overloaded"
    assert "The engine is overloaded (HTTP 503) after 4 attempts" in str(error)
    assert isinstance(error.__cause__, openai.InternalServerError)
    assert len(sleeps) == 3
    assert mock_openai.pending == 1


async def test_sdk_retries_are_turned_off_on_a_given_client(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    assert openai_client.max_retries == 2

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    model = OpenAIResponsesModel(
        model="m", client=openai_client, retry=RetryPolicy(max_attempts=2, sleep=fake_sleep)
    )
    mock_openai.add_error(500).add_error(500).add_error(500).add_text("unused")

    with pytest.raises(ModelAPIError):
        await model.respond(ask())

    assert len(mock_openai.requests) == 2
    assert model.client.max_retries == 0


def test_failed_response_raises() -> None:
    failed = {"status": "failed", "error": {"code": "server_error", "message": "It broke."}}
    with pytest.raises(ModelAPIError, match="It broke") as caught:
        parse_response(failed)
    assert caught.value.retryable
    with pytest.raises(ModelAPIError, match="no output"):
        parse_response({"status": "completed"})


# ------------------------------------------------------------ configuration


async def test_create_builds_a_client_from_the_environment(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    mock_openai.add_text("from env")

    model = create("gpt-env")
    response = await model.respond(ask())

    assert model.name == "openai:gpt-env"
    assert model.supports_hosted_tools is True
    assert response.output[0].text == "from env"  # type: ignore[union-attr]
    assert mock_openai.requests[0].body["model"] == "gpt-env"
    assert isinstance(model, OpenAIResponsesModel) and model.client.max_retries == 0


def test_import_ascent_does_not_import_openai() -> None:
    code = "import sys, ascent, ascent.models; sys.exit('openai' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_output_items_are_our_items() -> None:
    refusal = {"type": "refusal", "refusal": "No."}
    response = parse_response(
        {
            "id": "resp_1",
            "status": "incomplete",
            "output": [
                {"type": "message", "role": "assistant", "content": [refusal]},
                WEB_SEARCH_CALL,
            ],
            "usage": None,
        }
    )
    message, hosted = response.output
    assert isinstance(message, Message) and message.text == "No."
    assert hosted == input_to_items([WEB_SEARCH_CALL])[0]
    assert response.usage.requests == 1 and response.usage.input_tokens == 0
