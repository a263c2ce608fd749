"""ModelSettings over the wire: each setting reaches the request body of the
providers that take it, and is refused by name, before any request, by the
providers that do not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai.types.shared import Reasoning as OpenAIReasoning

from ascent import Agent, RunConfig, Runner
from ascent.errors import ProviderCapabilityError, UserError
from ascent.models import ModelRequest, ModelSettings, ReasoningSettings, ResponseCompleted
from ascent.models._retry import RetryPolicy
from ascent.models.litellm import LiteLLMModel
from ascent.models.openai_chat import OpenAIChatModel
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.testing import recording_traces
from ascent.testing.mock_openai import MockOpenAIServer

from .conftest import ask

pytestmark = [
    pytest.mark.filterwarnings("ignore:coroutine 'Logging.async_success_handler':RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

EVERYTHING_RESPONSES = ModelSettings(
    temperature=0.3,
    top_p=0.8,
    max_tokens=100,
    truncation="auto",
    reasoning=OpenAIReasoning(effort="high", summary="detailed"),
    verbosity="low",
    store=True,
    metadata={"team": "support"},
    include_usage=True,
    top_logprobs=3,
    extra_query={"api-version": "2025-01-01"},
    extra_args={"service_tier": "flex"},
    extra_headers={"X-Team": "support"},
    timeout=5,
)

EVERYTHING_CHAT = ModelSettings(
    temperature=0.3,
    top_p=0.8,
    frequency_penalty=0.5,
    presence_penalty=-0.5,
    max_tokens=100,
    seed=7,
    reasoning_effort="low",
    verbosity="high",
    store=False,
    metadata={"team": "support"},
    include_usage=False,
    top_logprobs=2,
    extra_query={"api-version": "2025-01-01"},
    extra_args={"service_tier": "flex"},
    extra_body={"user": "u-1"},
)


@pytest.fixture
def responses(openai_client: openai.AsyncOpenAI, retry: RetryPolicy) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(model="gpt-5", client=openai_client, retry=retry)


@pytest.fixture
def chat(openai_client: openai.AsyncOpenAI, retry: RetryPolicy) -> OpenAIChatModel:
    return OpenAIChatModel(model="gpt-5", client=openai_client, retry=retry)


async def _call(model: Any, request: ModelRequest, *, stream: bool) -> None:
    if not stream:
        await model.respond(request)
        return
    events = [event async for event in model.stream(request)]
    assert isinstance(events[-1], ResponseCompleted)


# ------------------------------------------------------------------ merging


def test_reasoning_takes_every_form_and_reasoning_effort_is_its_shorthand() -> None:
    expected = ReasoningSettings(effort="high", summary="auto")
    for given in (
        expected,
        OpenAIReasoning(effort="high", summary="auto"),
        {"effort": "high", "summary": "auto"},
    ):
        settings = ModelSettings(reasoning=given)
        assert settings.reasoning == expected
        assert settings.reasoning_effort == "high"
    shorthand = ModelSettings(reasoning_effort="low")
    assert shorthand.reasoning == ReasoningSettings(effort="low")


def test_bad_reasoning_and_ranges_are_refused() -> None:
    with pytest.raises(UserError, match="contradicts"):
        ModelSettings(reasoning_effort="low", reasoning={"effort": "high"})
    with pytest.raises(UserError, match="unknown key"):
        ModelSettings(reasoning={"effort": "low", "budget": 3})
    with pytest.raises(UserError, match="top_logprobs"):
        ModelSettings(top_logprobs=21)
    with pytest.raises(UserError, match="timeout"):
        ModelSettings(timeout=0)


def test_merge_lays_the_override_on_top() -> None:
    agent = ModelSettings(
        temperature=0.1,
        reasoning_effort="high",
        metadata={"a": "1"},
        extra_args={"service_tier": "flex", "user": "a"},
    )
    run = ModelSettings(
        reasoning={"summary": "concise"},
        metadata={"b": "2"},
        extra_args={"user": "b"},
        verbosity="low",
    )

    merged = agent.merged(run)

    assert merged.temperature == 0.1
    assert merged.reasoning == ReasoningSettings(effort="high", summary="concise")
    assert merged.reasoning_effort == "high"
    assert merged.metadata == {"b": "2"}  # replaced whole, like the SDK
    assert merged.extra_args == {"service_tier": "flex", "user": "b"}  # merged key by key
    assert merged.verbosity == "low"
    lowered = merged.merged(ModelSettings(reasoning_effort="low"))
    assert lowered.reasoning == ReasoningSettings(effort="low", summary="concise")


# ------------------------------------------------------------ Responses API


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_sends_every_setting(
    responses: OpenAIResponsesModel, mock_openai: MockOpenAIServer, stream: bool
) -> None:
    mock_openai.add_text("ok")

    await _call(responses, ask(settings=EVERYTHING_RESPONSES), stream=stream)

    received = mock_openai.requests[0]
    body = received.body
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["max_output_tokens"] == 100
    assert body["truncation"] == "auto"
    assert body["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert body["text"] == {"verbosity": "low"}
    assert body["store"] is True
    assert body["metadata"] == {"team": "support"}
    assert body["top_logprobs"] == 3
    assert body["include"] == ["reasoning.encrypted_content", "message.output_text.logprobs"]
    assert body["service_tier"] == "flex"
    assert "include_usage" not in body and "stream_options" not in body
    assert body.get("stream", False) is stream
    assert received.query == {"api-version": "2025-01-01"}
    assert received.headers["x-team"] == "support"


async def test_responses_defaults_leave_store_off(
    responses: OpenAIResponsesModel, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_text("ok")

    await responses.respond(ask())

    body = mock_openai.requests[0].body
    assert body["store"] is False
    for key in ("truncation", "metadata", "top_logprobs", "reasoning", "text"):
        assert key not in body


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (ModelSettings(seed=1), "seed"),
        (ModelSettings(frequency_penalty=0.2), "frequency_penalty"),
        (ModelSettings(presence_penalty=0.2), "presence_penalty"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_responses_refuses_what_it_lacks(
    responses: OpenAIResponsesModel,
    mock_openai: MockOpenAIServer,
    settings: ModelSettings,
    named: str,
    stream: bool,
) -> None:
    with pytest.raises(ProviderCapabilityError, match=rf"ModelSettings\.{named} .*openai:gpt-5"):
        await _call(responses, ask(settings=settings), stream=stream)
    assert mock_openai.requests == []


async def test_extra_args_may_not_shadow_a_setting(
    responses: OpenAIResponsesModel, mock_openai: MockOpenAIServer
) -> None:
    settings = ModelSettings(temperature=0.5, extra_args={"temperature": 1.0})
    with pytest.raises(UserError, match="extra_args sets temperature"):
        await responses.respond(ask(settings=settings))
    assert mock_openai.requests == []


# --------------------------------------------------------- Chat Completions


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_sends_every_setting(
    chat: OpenAIChatModel, mock_openai: MockOpenAIServer, stream: bool
) -> None:
    mock_openai.add_text("ok")

    await _call(chat, ask(settings=EVERYTHING_CHAT), stream=stream)

    received = mock_openai.requests[0]
    body = received.body
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["frequency_penalty"] == 0.5
    assert body["presence_penalty"] == -0.5
    assert body["max_tokens"] == 100
    assert body["seed"] == 7
    assert body["reasoning_effort"] == "low"
    assert body["verbosity"] == "high"
    assert body["store"] is False
    assert body["metadata"] == {"team": "support"}
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 2
    assert body["service_tier"] == "flex"
    assert body["user"] == "u-1"
    assert received.query == {"api-version": "2025-01-01"}
    if stream:
        assert body["stream_options"] == {"include_usage": False}
    else:
        assert "stream_options" not in body


async def test_chat_streams_ask_for_usage_by_default(
    chat: OpenAIChatModel, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_text("ok", input_tokens=12)

    events = [event async for event in chat.stream(ask())]

    assert mock_openai.requests[0].body["stream_options"] == {"include_usage": True}
    final = events[-1]
    assert isinstance(final, ResponseCompleted)
    assert final.response.usage.input_tokens == 12


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (ModelSettings(truncation="auto"), "truncation"),
        (ModelSettings(reasoning={"effort": "low", "summary": "auto"}), "reasoning.summary"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_chat_refuses_what_only_responses_has(
    chat: OpenAIChatModel,
    mock_openai: MockOpenAIServer,
    settings: ModelSettings,
    named: str,
    stream: bool,
) -> None:
    with pytest.raises(ProviderCapabilityError, match=rf"{named} .*openai-chat:gpt-5"):
        await _call(chat, ask(settings=settings), stream=stream)
    assert mock_openai.requests == []


async def test_chat_refuses_server_side_state(
    chat: OpenAIChatModel, mock_openai: MockOpenAIServer
) -> None:
    with pytest.raises(ProviderCapabilityError, match=r"previous_response_id .*openai-chat"):
        await chat.respond(ask(previous_response_id="resp_1"))
    with pytest.raises(ProviderCapabilityError, match=r"conversation_id .*openai-chat"):
        await chat.respond(ask(conversation_id="conv_1"))
    assert mock_openai.requests == []


# ------------------------------------------------------------------ LiteLLM


@pytest.fixture
def litellm_model(mock_openai: MockOpenAIServer, retry: RetryPolicy) -> LiteLLMModel:
    return LiteLLMModel(
        model="openai/mock-gpt", api_base=mock_openai.base_url, api_key="test-key", retry=retry
    )


async def test_litellm_passes_settings_and_extra_args(
    litellm_model: LiteLLMModel, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_text("ok")
    settings = ModelSettings(
        frequency_penalty=0.5,
        presence_penalty=0.25,
        top_logprobs=2,
        extra_args={"service_tier": "flex"},
    )

    await litellm_model.respond(ask(settings=settings))

    body = mock_openai.requests[0].body
    assert body["frequency_penalty"] == 0.5
    assert body["presence_penalty"] == 0.25
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 2
    assert body["service_tier"] == "flex"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (ModelSettings(metadata={"a": "b"}), "metadata"),
        (ModelSettings(extra_query={"a": "b"}), "extra_query"),
        (ModelSettings(truncation="auto"), "truncation"),
    ],
)
async def test_litellm_refuses_what_it_would_not_send(
    litellm_model: LiteLLMModel,
    mock_openai: MockOpenAIServer,
    settings: ModelSettings,
    named: str,
) -> None:
    with pytest.raises(ProviderCapabilityError, match=rf"{named} .*litellm:openai/mock-gpt"):
        await litellm_model.respond(ask(settings=settings))
    with pytest.raises(ProviderCapabilityError, match=named):
        litellm_model.stream(ask(settings=settings))
    assert mock_openai.requests == []


# ---------------------------------------------------------------- in a run


@pytest.fixture
async def wire_client(mock_openai: MockOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="k", timeout=5) as c:
        yield c


async def test_run_config_settings_override_the_agents_on_the_wire(
    wire_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_text("ok")
    agent = Agent(
        name="Writer",
        model=OpenAIResponsesModel(model="gpt-5", client=wire_client),
        model_settings=ModelSettings(
            reasoning_effort="high", verbosity="high", metadata={"who": "agent"}
        ),
    )
    config = RunConfig(model_settings=ModelSettings(reasoning={"summary": "auto"}, verbosity="low"))

    await Runner.run(agent, "Hi", run_config=config)

    body = mock_openai.requests[0].body
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["text"] == {"verbosity": "low"}
    assert body["metadata"] == {"who": "agent"}


async def test_a_refused_setting_stops_the_run_before_any_request(
    wire_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    agent = Agent(
        name="Writer",
        model=OpenAIChatModel(model="gpt-5", client=wire_client),
        model_settings=ModelSettings(truncation="auto"),
    )

    with pytest.raises(ProviderCapabilityError, match="truncation"):
        await Runner.run(agent, "Hi")
    assert mock_openai.requests == []


async def test_the_model_span_records_the_settings_as_plain_json() -> None:
    agent = Agent(
        name="Writer",
        model="offline",
        model_settings=ModelSettings(
            reasoning=OpenAIReasoning(effort="low", summary="auto"),
            verbosity="low",
            extra_headers={"Authorization": "Bearer secret"},
        ),
    )

    with recording_traces() as recorder:
        await Runner.run(agent, "Hi")

    [span] = [s for s in recorder.spans if s.kind == "model"]
    settings = span.attributes["settings"]
    assert settings["reasoning"] == {"effort": "low", "summary": "auto"}
    assert settings["verbosity"] == "low"
    assert "reasoning_effort" not in settings and "extra_headers" not in settings
    json.dumps(settings)
