"""Server-side conversation state on the Responses API, over the wire.

With ``previous_response_id`` or ``conversation_id`` each model call sends only
the items the server has not seen (chaining each call to the response before
it), while the run's result holds every item, as without them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import openai
import pytest

from ascent import Agent, FunctionCallOutput, Message, Runner, handoff
from ascent.errors import ProviderCapabilityError, UserError
from ascent.memory.session import InMemorySession
from ascent.models import ModelSettings
from ascent.models.openai_chat import OpenAIChatModel
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.run.commands import CallModel
from ascent.run.state import RunState
from ascent.testing.mock_openai import MockOpenAIServer

from ..sample_tools import get_order, refund
from ..wire import input_types


def _agent(client: openai.AsyncOpenAI, **kwargs: Any) -> Agent:
    model = OpenAIResponsesModel(model="gpt-4.1", client=client)
    return Agent(name="Support", instructions="Help.", model=model, tools=[get_order], **kwargs)


@pytest.mark.parametrize("stream", [False, True])
async def test_previous_response_id_sends_only_new_items_and_chains(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer, stream: bool
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")
    agent = _agent(openai_client)

    if stream:
        streamed = Runner.run_streamed(agent, "Where is A1?", previous_response_id="resp_old")
        async for _ in streamed.stream_events():
            pass
        result = streamed.result
    else:
        result = await Runner.run(agent, "Where is A1?", previous_response_id="resp_old")

    first, second = (request.body for request in mock_openai.requests)
    assert first["previous_response_id"] == "resp_old"
    assert first["store"] is True
    assert "conversation" not in first
    assert input_types(first) == ["message"]
    assert first["input"][0]["content"] == "Where is A1?"
    # the second call names the first response and sends only the tool's output
    assert second["previous_response_id"] != "resp_old"
    assert second["previous_response_id"].startswith("resp_")
    assert input_types(second) == ["function_call_output"]
    # the result keeps every item, as without server-side state
    assert result.final_output == "It shipped."
    assert [type(item).__name__ for item in result.new_items] == [
        "FunctionCall",
        "FunctionCallOutput",
        "Message",
    ]
    assert len(result.to_input_list()) == 4
    assert result.last_response_id is not None
    assert result.last_response_id != second["previous_response_id"]
    assert result.state.server_conversation is not None


async def test_each_call_chains_to_the_response_before_it(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"}))
    mock_openai.add_tool_calls(("get_order", {"order_id": "B2"}))
    mock_openai.add_text("Both shipped.")

    result = await Runner.run(_agent(openai_client), "A1 and B2?", previous_response_id="resp_0")

    chain = [request.body["previous_response_id"] for request in mock_openai.requests]
    assert chain[0] == "resp_0"
    assert len(set(chain)) == 3  # a new response id on every call
    assert [len(request.body["input"]) for request in mock_openai.requests] == [1, 1, 1]
    assert result.last_response_id not in chain


async def test_conversation_id_is_sent_on_every_call_without_chaining(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")

    result = await Runner.run(_agent(openai_client), "Where is A1?", conversation_id="conv_123")

    for request in mock_openai.requests:
        assert request.body["conversation"] == "conv_123"
        assert "previous_response_id" not in request.body
        assert request.body["store"] is True
    assert [input_types(r.body) for r in mock_openai.requests] == [
        ["message"],
        ["function_call_output"],
    ]
    assert result.final_output == "It shipped."


def test_run_sync_takes_them_too(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    mock_openai.add_text("Hello again.")
    agent = Agent(name="Support", model="openai:gpt-4.1")

    result = Runner.run_sync(agent, "Hi", previous_response_id="resp_9")

    assert mock_openai.requests[0].body["previous_response_id"] == "resp_9"
    assert result.last_response_id == result.state.last_response_id != "resp_9"


async def test_without_server_state_the_whole_conversation_is_sent(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")

    result = await Runner.run(_agent(openai_client), "Where is A1?")

    second = mock_openai.requests[1].body
    assert "previous_response_id" not in second and second["store"] is False
    assert input_types(second) == ["message", "function_call", "function_call_output"]
    assert result.state.server_conversation is None
    assert result.last_response_id is not None


async def test_a_sessions_history_stays_on_the_server(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    session = InMemorySession("s1")
    await session.add_items([Message(role="user", content="Hi"), Message.assistant("Hello!")])
    mock_openai.add_text("Sure.")

    result = await Runner.run(
        _agent(openai_client), "Check A1", session=session, previous_response_id="resp_prev"
    )

    assert input_types(mock_openai.requests[0].body) == ["message"]
    assert mock_openai.requests[0].body["input"][0]["content"] == "Check A1"
    assert len(result.to_input_list()) == 4
    assert len(await session.get_items()) == 4


async def test_a_paused_run_resumes_the_chain_from_its_saved_state(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    model = OpenAIResponsesModel(model="gpt-4.1", client=openai_client)
    agent = Agent(name="Support", model=model, tools=[refund])
    mock_openai.add_tool_calls(("refund", {"order_id": "A1"})).add_text("Refunded.")

    paused = await Runner.run(agent, "Refund A1", previous_response_id="resp_start")
    assert paused.is_interrupted
    saved = paused.state.to_json()
    paused_id = paused.last_response_id

    state = RunState.from_json(saved)
    assert state.server_conversation is not None
    assert state.last_response_id == paused_id
    state.approve(state.interruptions[0])
    result = await Runner.run(agent, state)

    resumed = mock_openai.requests[1].body
    assert resumed["previous_response_id"] == paused_id
    assert input_types(resumed) == ["function_call_output"]
    assert result.final_output == "Refunded."
    assert isinstance(result.new_items[-2], FunctionCallOutput)


async def test_a_resumed_state_takes_no_new_server_state(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    model = OpenAIResponsesModel(model="gpt-4.1", client=openai_client)
    agent = Agent(name="Support", model=model, tools=[refund])
    mock_openai.add_tool_calls(("refund", {"order_id": "A1"}))
    paused = await Runner.run(agent, "Refund A1")

    with pytest.raises(UserError, match="resumed RunState"):
        await Runner.run(agent, paused.state, previous_response_id="resp_x")


async def test_both_ids_at_once_are_refused(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    with pytest.raises(UserError, match="not both"):
        await Runner.run(
            _agent(openai_client), "Hi", previous_response_id="resp_1", conversation_id="conv_1"
        )
    assert mock_openai.requests == []


async def test_store_false_cannot_chain(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    agent = _agent(openai_client, model_settings=ModelSettings(store=False))

    with pytest.raises(UserError, match="store=False"):
        await Runner.run(agent, "Hi", previous_response_id="resp_1")
    assert mock_openai.requests == []


@pytest.mark.parametrize("model", ["chat", "offline"])
async def test_providers_without_server_state_refuse_it_before_any_request(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer, model: str
) -> None:
    chosen = (
        OpenAIChatModel(model="gpt-4.1", client=openai_client) if model == "chat" else "offline"
    )
    agent = Agent(name="Support", model=chosen)

    with pytest.raises(ProviderCapabilityError, match="previous_response_id is not supported"):
        await Runner.run(agent, "Hi", previous_response_id="resp_1")
    with pytest.raises(ProviderCapabilityError, match="conversation_id is not supported"):
        await Runner.run(agent, "Hi", conversation_id="conv_1")
    assert mock_openai.requests == []


def _triage(client: openai.AsyncOpenAI, input_filter: Any) -> Agent:
    model = OpenAIResponsesModel(model="gpt-4.1", client=client)
    billing = Agent(name="Billing", model=model)
    return Agent(name="Triage", model=model, handoffs=[handoff(billing, input_filter=input_filter)])


async def test_a_handoff_that_filters_the_conversation_is_refused(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_tool_calls(("transfer_to_billing", {}))
    forget = _triage(openai_client, lambda data: dataclasses.replace(data, input_history=()))

    with pytest.raises(UserError, match="cannot forget"):
        await Runner.run(forget, "Bill me", previous_response_id="resp_1")


async def test_a_handoff_whose_filter_keeps_everything_goes_on(
    openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_tool_calls(("transfer_to_billing", {})).add_text("Billing here.")

    result = await Runner.run(
        _triage(openai_client, lambda data: data), "Bill me", previous_response_id="resp_1"
    )

    assert result.last_agent.name == "Billing"
    assert input_types(mock_openai.requests[1].body) == ["function_call_output"]


def test_the_model_call_command_round_trips_through_json() -> None:
    command = CallModel(
        agent="Support",
        turn=2,
        input=[Message(role="user", content="Hi")],
        previous_response_id="resp_7",
    )

    again = CallModel.model_validate_json(command.model_dump_json())

    assert again.previous_response_id == "resp_7"
    assert again.conversation_id is None
    assert again.input == command.input
