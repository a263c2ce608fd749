"""The Chat Completions provider and its item conversion, over the wire; the mock server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import pytest

from ascent.errors import ModelAPIError, ProviderCapabilityError
from ascent.items import (
    FunctionCall,
    FunctionCallOutput,
    InputFile,
    InputImage,
    InputText,
    Message,
    OutputText,
    ProviderItem,
    Reasoning,
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
from ascent.models.openai_chat import OpenAIChatModel, create, to_chat_messages
from ascent.testing.mock_openai import (
    BrokenStream,
    Delay,
    HTTPError,
    Malformed,
    MockOpenAIServer,
    MockRequest,
    Reply,
    Step,
    ToolCall,
)

from .conftest import ask

ADD = FunctionToolSpec(
    name="add",
    description="Add two numbers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
    strict=False,
)


@pytest.fixture
def model(openai_client: openai.AsyncOpenAI, retry: RetryPolicy) -> OpenAIChatModel:
    return OpenAIChatModel(model="llama-test", client=openai_client, retry=retry)


# ------------------------------------------------------------------ answers


async def test_text_reply_and_usage(model: OpenAIChatModel, mock_openai: MockOpenAIServer):
    mock_openai.add_text("Hello!", input_tokens=20, output_tokens=4, cached_tokens=8)

    response = await model.respond(ask("Hi"))

    [message] = response.output
    assert isinstance(message, Message)
    assert (message.role, message.text) == ("assistant", "Hello!")
    assert response.response_id is not None and response.response_id.startswith("chatcmpl-")
    usage = response.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (1, 20, 4)
    assert usage.cached_input_tokens == 8

    [received] = mock_openai.requests
    assert received.path == "/v1/chat/completions"
    assert received.body["model"] == "llama-test"
    assert received.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


async def test_parallel_tool_calls_with_text(model: OpenAIChatModel, mock_openai: MockOpenAIServer):
    mock_openai.add_tool_calls(
        ToolCall(name="add", arguments={"a": 1, "b": 2}, call_id="call_1"),
        ToolCall(name="add", arguments={"a": 3, "b": 4}, call_id="call_2"),
        text="Adding both.",
    )

    response = await model.respond(ask(tools=[ADD]))

    message, first, second = response.output
    assert isinstance(message, Message) and message.text == "Adding both."
    assert isinstance(first, FunctionCall) and isinstance(second, FunctionCall)
    assert (first.call_id, first.name, first.arguments) == ("call_1", "add", '{"a": 1, "b": 2}')
    assert (second.call_id, second.arguments) == ("call_2", '{"a": 3, "b": 4}')


async def test_reasoning_content_becomes_a_reasoning_item(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer
):
    mock_openai.add(Reply(reasoning="Hmm.", text="42"))

    response = await model.respond(ask())

    reasoning, message = response.output
    assert isinstance(reasoning, Reasoning) and reasoning.text == "Hmm."
    assert isinstance(message, Message) and message.text == "42"


async def test_request_mapping(model: OpenAIChatModel, mock_openai: MockOpenAIServer):
    mock_openai.add_text('{"total": 3}')
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    settings = ModelSettings(
        temperature=0.0,
        top_p=0.5,
        max_tokens=100,
        seed=11,
        tool_choice="add",
        parallel_tool_calls=True,
        reasoning_effort="high",
        extra_body={"top_k": 20},
        extra_headers={"X-Client": "ascent"},
    )
    request = ask(
        tools=[ADD], output=OutputSpec(name="Total", schema=schema, strict=False), settings=settings
    )

    await model.respond(request)

    received = mock_openai.requests[0]
    body = received.body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers.",
                "parameters": ADD.parameters,
            },
        }
    ]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Total", "schema": schema, "strict": False},
    }
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert body["parallel_tool_calls"] is True
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (
        0,
        0.5,
        100,
        11,
    )
    assert body["reasoning_effort"] == "high"
    assert body["top_k"] == 20
    assert received.headers["x-client"] == "ascent"


async def test_parallel_tool_calls_setting_needs_tools(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer
):
    mock_openai.add_text("ok")

    await model.respond(ask(settings=ModelSettings(parallel_tool_calls=False, tool_choice="none")))

    body = mock_openai.requests[0].body
    assert "parallel_tool_calls" not in body and "tools" not in body
    assert body["tool_choice"] == "none"


async def test_hosted_tools_raise_capability_error(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer
):
    request = ask(tools=[ADD, HostedToolSpec(kind="web_search")])

    assert model.supports_hosted_tools is False
    with pytest.raises(ProviderCapabilityError, match="web_search"):
        await model.respond(request)
    with pytest.raises(ProviderCapabilityError):
        model.stream(request)
    assert mock_openai.requests == []


# --------------------------------------------------------------- conversion


CAT = "https://example.com/cat.png"
PDF = "data:application/pdf;base64,AAAA"


def test_items_convert_to_chat_messages() -> None:
    items = [
        Message(role="developer", content="Use tools."),
        Message(
            role="user",
            content=[
                InputText(text="What is in "),
                InputImage(image_url=CAT, detail="low"),
                InputFile(file_data=PDF, filename="a.pdf"),
            ],
        ),
        Reasoning(id="rs_1", summary=[{"type": "summary_text", "text": "hidden"}]),
        Message.assistant("Let me check both."),
        FunctionCall(call_id="c1", name="add", arguments='{"a": 1, "b": 2}'),
        FunctionCall(call_id="c2", name="add", arguments='{"a": 3, "b": 4}'),
        ProviderItem(type="web_search_call", id="ws_1"),
        FunctionCallOutput(call_id="c1", output="3", agent="math"),
        FunctionCallOutput(call_id="c2", output="7", is_error=True),
        FunctionCall(call_id="c3", name="add", arguments="{}"),
        FunctionCallOutput(call_id="c3", output="0"),
        Message(role="assistant", content=[OutputText(text="Sums: "), OutputText(text="3, 7")]),
    ]

    messages = to_chat_messages("System prompt", items)

    def call(call_id: str, arguments: str) -> dict[str, Any]:
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "add", "arguments": arguments},
        }

    assert messages == [
        {"role": "system", "content": "System prompt"},
        {"role": "system", "content": "Use tools."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in "},
                {"type": "image_url", "image_url": {"url": CAT, "detail": "low"}},
                {"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check both.",
            "tool_calls": [call("c1", '{"a": 1, "b": 2}'), call("c2", '{"a": 3, "b": 4}')],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "tool", "tool_call_id": "c2", "content": "7"},
        {"role": "assistant", "content": None, "tool_calls": [call("c3", "{}")]},
        {"role": "tool", "tool_call_id": "c3", "content": "0"},
        {"role": "assistant", "content": "Sums: 3, 7"},
    ]


def test_parts_without_a_chat_form_raise() -> None:
    image = Message(role="user", content=[InputImage(file_id="file_1")])
    with pytest.raises(ProviderCapabilityError, match="file_id"):
        to_chat_messages(None, [image])


async def test_tool_round_trip_over_the_wire(model: OpenAIChatModel, mock_openai: MockOpenAIServer):
    mock_openai.add_tool_calls(("add", {"a": 2, "b": 2}))
    mock_openai.add_text("4")
    request = ask("2+2", tools=[ADD])

    first = await model.respond(request)
    [call] = first.output
    assert isinstance(call, FunctionCall)
    output = FunctionCallOutput(call_id=call.call_id, output="4")
    await model.respond(ModelRequest(instructions=None, input=[*request.input, call, output]))

    messages = mock_openai.requests[1].body["messages"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "4"}


# ---------------------------------------------------------------- streaming


async def test_stream_deltas_and_same_response_as_respond(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer
):
    reply = Reply(
        reasoning="Thinking it over.",
        text="Sure, adding now.",
        tool_calls=[
            ToolCall(name="add", arguments={"a": 1, "b": 2}, call_id="call_x"),
            ToolCall(name="add", arguments={"a": 10, "b": 20}, call_id="call_y"),
        ],
        input_tokens=33,
        output_tokens=11,
    )
    mock_openai.add(reply, reply)
    request = ask(tools=[ADD])

    events = [event async for event in model.stream(request)]
    expected = await model.respond(request)

    body = mock_openai.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert isinstance(events[-1], ResponseCompleted)
    text = [e.delta for e in events if isinstance(e, TextDelta)]
    assert len(text) > 1 and "".join(text) == "Sure, adding now."
    assert "".join(e.delta for e in events if isinstance(e, ReasoningDelta)) == "Thinking it over."
    args = [e for e in events if isinstance(e, ToolCallArgumentsDelta)]
    assert len(args) > 2
    by_call = {
        cid: "".join(e.delta for e in args if e.call_id == cid) for cid in ("call_x", "call_y")
    }
    assert by_call == {"call_x": '{"a": 1, "b": 2}', "call_y": '{"a": 10, "b": 20}'}
    assert {e.name for e in args} == {"add"}

    streamed = events[-1].response
    assert streamed.output == expected.output
    assert streamed.usage == expected.usage
    assert streamed.usage.input_tokens == 33


async def test_a_stream_broken_mid_way_is_asked_again_and_says_so(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(BrokenStream(reply=Reply(text="a b c d e f"), after=3)).add_text("whole")

    events = [event async for event in model.stream(ask())]

    kinds = [type(event).__name__ for event in events]
    assert kinds == ["TextDelta", "TextDelta", "StreamRestarted", "TextDelta", "ResponseCompleted"]
    restarted = events[2]
    assert isinstance(restarted, StreamRestarted) and "asking again" in restarted.reason
    assert [e.delta for e in events if isinstance(e, TextDelta)] == ["a ", "b ", "whole"]
    final = events[-1]
    assert isinstance(final, ResponseCompleted)
    assert final.response.output[0].text == "whole"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 2 and len(sleeps) == 1


async def test_a_stream_that_keeps_breaking_fails_after_the_retry_budget(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    for _ in range(4):
        mock_openai.add(BrokenStream(reply=Reply(text="a b c"), after=2))
    mock_openai.add_text("unused")

    with pytest.raises(ModelAPIError) as caught:
        async for _event in model.stream(ask()):
            pass

    assert caught.value.attempts == 4  # the policy's max_attempts, as for other failures
    assert mock_openai.pending == 1


async def test_a_per_call_timeout_fails_the_attempt_and_the_call_is_retried(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(Delay(seconds=2.0), Delay(seconds=2.0)).add_text("made it")
    request = ask()
    request.settings = ModelSettings(timeout=0.3)

    response = await model.respond(request)

    assert response.output[0].text == "made it"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 3


async def test_stream_retries_before_first_event(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(HTTPError(status=502), Malformed()).add_text("hello")

    events = [event async for event in model.stream(ask())]

    assert [e.delta for e in events if isinstance(e, TextDelta)] == ["hello"]
    assert len(sleeps) == 2 and len(mock_openai.requests) == 3


# ------------------------------------------------------------------ retries


async def test_retries_429_then_500_then_malformed(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, sleeps: list[float]
):
    mock_openai.add(HTTPError(status=429, message="slow", retry_after=4), HTTPError(status=500))
    mock_openai.add(Malformed(body="<html>oops</html>")).add_text("ok")

    response = await model.respond(ask())

    assert response.output[0].text == "ok"  # type: ignore[union-attr]
    assert sleeps[0] == 4.0 and len(sleeps) == 3
    assert len(mock_openai.requests) == 4


async def test_retries_timeouts(
    slow_client: openai.AsyncOpenAI, retry: RetryPolicy, mock_openai: MockOpenAIServer
):
    model = OpenAIChatModel(model="m", client=slow_client, retry=retry)
    mock_openai.add(Delay(seconds=1.0), Delay(seconds=1.0)).add_text("made it")

    response = await model.respond(ask())

    assert response.output[0].text == "made it"  # type: ignore[union-attr]
    assert len(mock_openai.requests) == 3


@pytest.mark.parametrize("status", [400, 401])
async def test_client_errors_are_not_retried(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer, status: int
):
    mock_openai.add_error(status, "Invalid request: messages[0]").add_text("unused")

    with pytest.raises(ModelAPIError) as caught:
        await model.respond(ask())

    assert (caught.value.status_code, caught.value.attempts) == (status, 1)
    assert caught.value.message == "Invalid request: messages[0]"
    assert len(mock_openai.requests) == 1


async def test_exhausted_script_fails_loudly(model: OpenAIChatModel, mock_openai: MockOpenAIServer):
    with pytest.raises(ModelAPIError, match="script exhausted") as caught:
        await model.respond(ask())

    assert caught.value.attempts == 4 and caught.value.status_code == 500
    assert len(mock_openai.errors) == 4
    assert "no step left" in mock_openai.errors[0]


async def test_create_uses_the_environment(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    mock_openai.add_text("local model here")

    model = create("llama3.2")
    response = await model.respond(ask())

    assert model.name == "openai-chat:llama3.2"
    assert response.output[0].text == "local model here"  # type: ignore[union-attr]
    assert mock_openai.requests[0].headers["authorization"] == "Bearer not-needed"


# -------------------------------------------------------------- mock server


async def test_responder_and_latency_serve_concurrent_requests(
    model: OpenAIChatModel, mock_openai: MockOpenAIServer
):
    def responder(request: MockRequest) -> Step:
        if request.last_is_tool_output:
            return Reply(text=f"answer after {request.body['messages'][-1]['content']}")
        return Reply(tool_calls=[ToolCall(name="add", arguments={"a": 1, "b": 1})])

    mock_openai.responder = responder
    mock_openai.latency = 0.2

    async def conversation() -> str:
        request = ask(tools=[ADD])
        [call] = (await model.respond(request)).output
        assert isinstance(call, FunctionCall)
        output = FunctionCallOutput(call_id=call.call_id, output="2")
        final = await model.respond(
            ModelRequest(instructions=None, input=[*request.input, call, output])
        )
        return final.output[0].text  # type: ignore[union-attr]

    started = time.perf_counter()
    answers = await asyncio.gather(*(conversation() for _ in range(50)))
    elapsed = time.perf_counter() - started

    assert answers == ["answer after 2"] * 50
    assert len(mock_openai.requests) == 100
    assert elapsed < 5.0  # 100 requests x 0.2 s latency would take 20 s one after another


def test_mock_server_works_from_sync_code() -> None:
    with MockOpenAIServer() as server:
        server.add_text("sync hello")
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        client.close()
        assert completion.choices[0].message.content == "sync hello"
        assert server.requests[0].stream is False
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url


async def test_what_follows_an_answer_is_not_waited_for_long(monkeypatch: pytest.MonkeyPatch):
    """A server still talking after its answer is given up on; its errors are ignored."""
    from ascent.models import _openai_common

    monkeypatch.setattr(_openai_common, "_DRAIN_SECONDS", 0.05)

    async def endless():
        yield ""
        await asyncio.sleep(60)
        yield "never"

    async def broken():
        yield ""
        raise ConnectionResetError("gone")

    started = time.monotonic()
    await _openai_common._drain(endless())
    await _openai_common._drain(broken())
    assert time.monotonic() - started < 5


async def test_server_sent_events_are_read_whatever_the_chunks_and_line_ends():
    """The events' data comes out the same however the body is cut into chunks,
    with LF, CRLF or CR line ends, comments, names and multi-line data."""
    from ascent.models import _openai_common

    body = (
        ": a comment\n"
        "event: delta\n"
        'data: {"a": "é"}\n'
        "\n"
        "data: first\n"
        "data:second\n"
        "id: 7\n"
        "\n"
        "\n"
        "data: [DONE]"  # the last line has no end
    ).encode()
    expected = ['{"a": "é"}', "first\nsecond", "[DONE]"]

    async def read(chunks: list[bytes]) -> list[str]:
        async def source():
            for chunk in chunks:
                yield chunk

        return [data async for data in _openai_common.sse_data(source())]

    for ending in (b"\n", b"\r\n", b"\r"):
        text = body.replace(b"\n", ending)
        assert await read([text]) == expected
        for cut in range(1, len(text)):  # every place a chunk may end, é split included
            assert await read([text[:cut], text[cut:]]) == expected, (ending, cut)
        assert await read([bytes([byte]) for byte in text]) == expected
