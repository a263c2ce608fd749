"""Durable runs with server-side conversation state (``previous_response_id``,
``conversation_id``), over the wire to the mock OpenAI server, in every durability.

The first model call sends only the run's new input and names the response (or
conversation) it continues, after a crash too; a provider that keeps no
conversation is refused when the run is started, before anything is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import openai
import pytest
from dbos import DBOS, SetWorkflowID

from ascent import Agent, Message
from ascent.durable import DurableEngine, RunRecord
from ascent.durable._workflows import checkpointed_run_workflow, run_workflow
from ascent.errors import ProviderCapabilityError, UserError
from ascent.memory import open_session
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.testing.mock_openai import MockOpenAIServer, Reply
from ascent.testing.mock_openai import ToolCall as MockToolCall

from ..sample_tools import get_order, refund
from ..wire import input_types
from .conftest import Workers, wait_for

MakeEngine = Callable[..., Any]
MODES = ("steps", "turns", "run")


def _support(client: openai.AsyncOpenAI) -> Agent[Any]:
    model = OpenAIResponsesModel(model="gpt-4.1", client=client)
    return Agent(name="Support", instructions="Help.", model=model, tools=[get_order, refund])


def _bodies(mock: MockOpenAIServer) -> list[dict[str, Any]]:
    return [request.body for request in mock.requests]


@pytest.mark.parametrize("mode", MODES)
async def test_a_durable_run_sends_only_new_items_and_chains(
    make_engine: MakeEngine,
    openai_client: openai.AsyncOpenAI,
    mock_openai: MockOpenAIServer,
    mode: str,
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)], durability=mode)

    started = await engine.start_run("Support", "Where is A1?", previous_response_id="resp_old")
    record = await engine.wait_run(started.id)

    assert record.status == "completed", record.error
    assert record.output == "It shipped."
    first, second = _bodies(mock_openai)
    assert first["previous_response_id"] == "resp_old"
    assert first["store"] is True and "conversation" not in first
    assert input_types(first) == ["message"]
    assert first["input"][0]["content"] == "Where is A1?"
    # the second call names the first response and sends only the tool's output
    assert second["previous_response_id"].startswith("resp_")
    assert second["previous_response_id"] != "resp_old"
    assert input_types(second) == ["function_call_output"]
    events = [event.type async for event in engine.events(record.id, follow=False)]
    assert events.count("item") >= 3  # the run's items are all there, as without


@pytest.mark.parametrize("mode", ["steps", "run"])
async def test_a_sessions_history_stays_on_the_server_and_the_session_gets_every_item(
    make_engine: MakeEngine,
    openai_client: openai.AsyncOpenAI,
    mock_openai: MockOpenAIServer,
    sqlite_url: str,
    mode: str,
) -> None:
    session_id = f"chat-{mode}"
    session = open_session(session_id, sqlite_url)
    await session.add_items([Message(role="user", content="Hi"), Message.assistant("Hello!")])
    mock_openai.add_text("Sure.")
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)], durability=mode)

    started = await engine.start_run(
        "Support", "Check A1", session_id=session_id, conversation_id="conv_123"
    )
    record = await engine.wait_run(started.id)

    assert record.status == "completed", record.error
    (body,) = _bodies(mock_openai)
    assert body["conversation"] == "conv_123"
    assert "previous_response_id" not in body
    assert input_types(body) == ["message"] and body["input"][0]["content"] == "Check A1"
    items = await open_session(session_id, sqlite_url).get_items()
    assert [getattr(item, "text", None) for item in items] == ["Hi", "Hello!", "Check A1", "Sure."]


@pytest.mark.parametrize("mode", MODES)
async def test_a_run_paused_for_approval_resumes_the_chain(
    make_engine: MakeEngine,
    openai_client: openai.AsyncOpenAI,
    mock_openai: MockOpenAIServer,
    mode: str,
) -> None:
    mock_openai.add_tool_calls(("refund", {"order_id": "A1"})).add_text("Refunded.")
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)], durability=mode)

    started = await engine.start_run("Support", "Refund A1", previous_response_id="resp_start")
    paused = await engine.wait_run(started.id)
    assert paused.status == "awaiting_approval", paused.error
    await engine.decide(paused.id, {paused.pending_approvals[0].call_id: True})
    record = await engine.wait_run(paused.id)

    assert record.status == "completed", record.error
    assert record.output == "Refunded."
    first, resumed = _bodies(mock_openai)
    assert first["previous_response_id"] == "resp_start"
    # the call after the pause continues from the paused call's response
    assert resumed["previous_response_id"] not in (None, "resp_start")
    assert input_types(resumed) == ["function_call_output"]


@pytest.mark.parametrize("mode", ["steps", "run"])
async def test_a_model_without_server_state_is_refused_at_start(
    make_engine: MakeEngine, mock_openai: MockOpenAIServer, mode: str
) -> None:
    offline = Agent(name="Support", model="offline")
    engine: DurableEngine = await make_engine(agents=[offline], durability=mode)

    with pytest.raises(ProviderCapabilityError, match="previous_response_id is not supported"):
        await engine.start_run("Support", "Hi", previous_response_id="resp_1")
    with pytest.raises(ProviderCapabilityError, match="conversation_id is not supported"):
        await engine.start_run("Support", "Hi", conversation_id="conv_1")

    assert await engine.list_runs() == []  # nothing recorded, nothing ran
    assert mock_openai.requests == []


async def test_the_engines_model_is_the_one_checked(
    make_engine: MakeEngine, openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)], model="offline")

    with pytest.raises(ProviderCapabilityError, match="offline"):
        await engine.start_run("Support", "Hi", previous_response_id="resp_1")
    assert await engine.list_runs() == []


async def test_both_ids_at_once_are_refused(
    make_engine: MakeEngine, openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)])

    with pytest.raises(UserError, match="not both"):
        await engine.start_run(
            "Support", "Hi", previous_response_id="resp_1", conversation_id="conv_1"
        )
    assert await engine.list_runs() == []


async def test_other_runs_keep_the_workflow_arguments_they_had(
    make_engine: MakeEngine, openai_client: openai.AsyncOpenAI, mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add_text("One.").add_text("Two.")
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)])

    plain = await engine.wait_run((await engine.start_run("Support", "Hi")).id)
    chained = await engine.wait_run(
        (await engine.start_run("Support", "Hi", previous_response_id="resp_1")).id
    )

    assert plain.status == chained.status == "completed"
    (plain_status,) = await DBOS.list_workflows_async(workflow_ids=[plain.id])
    (chained_status,) = await DBOS.list_workflows_async(workflow_ids=[chained.id])
    assert plain_status.input is not None and chained_status.input is not None
    assert len(plain_status.input["args"]) == 4  # as runs were recorded before
    assert chained_status.input["args"][4] == {"previous_response_id": "resp_1"}


@pytest.mark.parametrize("mode", ["steps", "run"])
async def test_a_workflow_recorded_with_the_old_arguments_still_runs(
    make_engine: MakeEngine,
    openai_client: openai.AsyncOpenAI,
    mock_openai: MockOpenAIServer,
    mode: str,
) -> None:
    """A run recorded before the workflows took ``server_state``: its stored
    arguments are the ones it is recovered with, and they must still load."""
    mock_openai.add_text("Still here.")
    engine: DurableEngine = await make_engine(agents=[_support(openai_client)])
    run_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    record = RunRecord(id=run_id, agent="Support", status="running", created_at=now, updated_at=now)
    assert engine.store.insert_run(record, events=[("run_started", {"agent": "Support"}, None)])
    items = [Message(role="user", content="Hi").model_dump(mode="json")]
    with SetWorkflowID(run_id):
        if mode == "steps":
            await DBOS.start_workflow_async(run_workflow, run_id, "Support", items, None)
        else:
            await DBOS.start_workflow_async(
                checkpointed_run_workflow, run_id, "Support", items, None, mode
            )

    done = await engine.wait_run(run_id)

    assert done.status == "completed", done.error
    assert done.output == "Still here."
    (body,) = _bodies(mock_openai)
    assert "previous_response_id" not in body and "conversation" not in body


@pytest.mark.parametrize("mode", ["steps", "run"])
def test_a_run_recovered_after_a_crash_keeps_its_chain(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer, mode: str
) -> None:
    """Killed while a tool runs, the run is recovered in another process from its
    stored workflow arguments: ``steps`` goes on from the recorded model call,
    ``run`` (no checkpoint yet) starts again from the response it was given."""
    lookup = Reply(tool_calls=[MockToolCall(name="slow_lookup", arguments={"order_id": "A-1"})])
    again = [lookup] if mode == "run" else []  # the call a run-mode crash repeats
    mock_openai.add(lookup, *again, Reply(text="A-1 has shipped."))
    group = workers(sqlite_url)
    group.env["ASCENT_DURABILITY"] = mode
    chain = {"model": "openai:mock", "previous_response_id": "resp_old"}
    first = group.spawn("replica-1", start="run-c", delay=60, **chain)
    wait_for(lambda: (group.marks / f"started-{first.pid}").exists(), "the tool to start")
    group.kill(first)

    record = group.result(group.spawn("replica-1", wait="run-c", **chain))

    assert record.status == "completed", record.error
    bodies = _bodies(mock_openai)
    assert bodies[0]["previous_response_id"] == "resp_old" and input_types(bodies[0]) == ["message"]
    if mode == "run":  # the first call was made again, from the same response
        assert bodies[1]["previous_response_id"] == "resp_old"
        assert input_types(bodies[1]) == ["message"]
    last = bodies[-1]
    assert last["previous_response_id"] not in (None, "resp_old")
    assert input_types(last) == ["function_call_output"]
    assert len(bodies) == (2 if mode == "steps" else 3)
