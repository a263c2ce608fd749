"""The service on Temporal as on DBOS, where the two once differed: a run's trace,
a conversation the provider keeps (``previous_response_id``, ``conversation_id``),
the usage of a failed run, and runs on one session taking turns. The assertions
are the DBOS tests' (``tests/server/test_api.py``, ``test_server_conversation.py``,
``tests/durable/test_sessions.py``), on a real Temporal test server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Agent
from ascent.errors import ModelBehaviorError
from ascent.memory import open_session
from ascent.models.base import Model
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.server import create_app
from ascent.storage import dispose_engines
from ascent.testing import ScriptedModel, ToolCall
from ascent.testing.mock_openai import MockOpenAIServer
from ascent.tracing import flush_traces

from ..durable.test_sessions import _assert_whole_turns, _turns
from ..sample_tools import get_order, lookup, refund
from ..server import served_agents
from ..wire import input_types
from .stack import Stack, temporal_stack

HEADERS = {"Authorization": "Bearer key-acme"}


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'service.db'}"
    dispose_engines()


@contextlib.asynccontextmanager
async def served(stack: Stack, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(engine=stack.engine, database_url=database_url, api_keys={"key-acme": "acme"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://service", headers=HEADERS
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def service(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    agents: Sequence[Agent[Any]],
    *,
    model: Model | None = None,
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    async with (
        temporal_stack(temporal, task_queue, database_url, agents, model=model) as stack,
        served(stack, database_url) as client,
    ):
        yield stack, client


# -------------------------------------------------------------------------- traces


async def test_a_served_runs_trace_has_its_model_and_tool_spans(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    shop = [a for a in served_agents.create_agents() if a.name == "Shop"]
    async with service(temporal, task_queue, database_url, shop) as (_stack, acme):
        run = (
            await acme.post("/v1/agents/Shop/runs", json={"input": "Status of order A-1042?"})
        ).json()
        assert run["status"] == "completed", run
        assert run["trace_id"]
        flush_traces()
        response = await acme.get(f"/v1/traces/{run['trace_id']}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["trace"]["trace_id"] == run["trace_id"]
        assert body["trace"]["metadata"]["run_id"] == run["id"]
        assert body["trace"]["error"] is None
        kinds = [span["kind"] for span in body["spans"]]
        assert kinds.count("model") == 2 and "tool" in kinds and "agent" in kinds
        short = run["trace_id"].removeprefix("trace_")
        assert (await acme.get(f"/v1/traces/{short}")).json() == body
        assert (await acme.get("/v1/traces/trace_nothing")).status_code == 404


# ------------------------------------------------- a conversation the provider keeps


@pytest.fixture
async def chained(mock_openai: MockOpenAIServer) -> AsyncIterator[list[Agent[Any]]]:
    """The agent ``Chained`` on the OpenAI Responses API (the mock server)."""
    async with openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="k", timeout=5) as client:
        model = OpenAIResponsesModel(model="gpt-4.1", client=client)
        yield [Agent(name="Chained", instructions="Help.", model=model, tools=[get_order])]


async def test_a_served_run_continues_a_response_and_sends_only_new_items(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    mock_openai.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        response = await acme.post(
            "/v1/agents/Chained/runs",
            json={"input": "Where is A1?", "previous_response_id": "resp_old"},
        )
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "completed", run["error"]
        assert run["output"] == "It shipped."
    first, second = (request.body for request in mock_openai.requests)
    assert first["previous_response_id"] == "resp_old"
    assert input_types(first) == ["message"] and first["input"][0]["content"] == "Where is A1?"
    assert second["previous_response_id"] not in (None, "resp_old")
    assert input_types(second) == ["function_call_output"]


async def test_a_sessions_second_turn_in_a_conversation_sends_only_its_message(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    mock_openai.add_text("Hello!").add_text("Sure.")
    session = f"conv-{uuid.uuid4().hex[:8]}"
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        for text in ("Hi", "Check A1"):
            body = {"input": text, "session_id": session, "conversation_id": "conv_9"}
            response = await acme.post("/v1/agents/Chained/runs", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "completed"
        items = (await acme.get(f"/v1/sessions/{session}/items")).json()["items"]
    second = mock_openai.requests[1].body
    assert second["conversation"] == "conv_9" and "previous_response_id" not in second
    assert input_types(second) == ["message"] and second["input"][0]["content"] == "Check A1"
    assert len(items) == 4  # the session keeps every item, as without


async def test_both_ids_at_once_are_a_400(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    body = {"input": "Hi", "previous_response_id": "resp_1", "conversation_id": "conv_1"}
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        response = await acme.post("/v1/agents/Chained/runs", json=body)
        assert response.status_code == 400, response.text
        assert "not both" in response.json()["error"]["message"]
        assert (await acme.get("/v1/runs")).json()["runs"] == []
    assert mock_openai.requests == []


# ------------------------------------------------------------ a failed run's usage


async def test_a_failed_run_records_the_usage_it_had(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    model = ScriptedModel(
        [ToolCall("lookup", {"order_id": "A-1"}), ModelBehaviorError("the model answered nonsense")]
    )
    support = Agent(name="support", tools=[lookup])
    async with service(temporal, task_queue, database_url, [support], model=model) as (_, acme):
        run = (await acme.post("/v1/agents/support/runs", json={"input": "Where is A-1?"})).json()
        assert run["status"] == "failed"
        assert "the model answered nonsense" in run["error"]
        assert run["usage"]["requests"] == 1  # the first call's, as on DBOS
        assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] == 5
        report = (await acme.get("/v1/usage")).json()
        assert report["total"]["requests"] == 1 and report["runs"] == 1


# ------------------------------------------------------------- turns on a session


async def test_runs_on_one_session_take_turns_in_the_order_they_started(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    runs = 4
    script: list[object] = []
    for number in range(runs):
        script += [ToolCall("lookup", {"order_id": f"A-{number}"}), f"Order A-{number}."]
    support = Agent(name="support", tools=[lookup])
    async with temporal_stack(
        temporal, task_queue, database_url, [support], model=ScriptedModel(script)
    ) as stack:
        engine = stack.engine
        started = await asyncio.gather(
            *(
                engine.start_run("support", f"Where is A-{n}?", session_id="shared", run_id=f"r{n}")
                for n in range(runs)
            )
        )
        records = await asyncio.gather(*(engine.wait_run(r.id, timeout=60) for r in started))
        assert [r.status for r in records] == ["completed"] * runs
        items = await open_session("shared", database_url).get_items()
        _assert_whole_turns(items, runs)
        # in the order they were started (their records' stamps), each after the last
        order = sorted(started, key=lambda record: record.created_at)
        questions = [t[0].content for t in _turns(items)]  # type: ignore[union-attr]
        assert questions == [f"Where is A-{r.id[1:]}?" for r in order]


async def test_a_run_waits_queued_behind_a_paused_run_on_its_session(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-1"}), "Refunded.", "Hello again."])
    support = Agent(name="support", tools=[lookup, refund])
    async with temporal_stack(temporal, task_queue, database_url, [support], model=model) as stack:
        engine = stack.engine
        first = await engine.wait_run(
            (await engine.start_run("support", "Refund A-1", session_id="s")).id
        )
        assert first.status == "awaiting_approval"
        second = await engine.start_run("support", "Hi", session_id="s")
        async with asyncio.timeout(30):
            while (await engine.get_run(second.id)).status != "queued":
                await asyncio.sleep(0.02)
        assert len(model.requests) == 1  # the second run has not called its model

        await engine.decide(first.id, {first.pending_approvals[0].call_id: True})
        assert (await engine.wait_run(first.id, timeout=30)).status == "completed"
        done = await engine.wait_run(second.id, timeout=30)
        assert done.status == "completed" and done.output == "Hello again."
        # the second run's model call saw the first run's whole turn before its question
        seen = model.requests[-1].input
        assert [type(i).__name__ for i in seen] == [
            "Message",
            "FunctionCall",
            "FunctionCallOutput",
            "Message",
            "Message",
        ]
        logged = [e.type async for e in engine.events(second.id, follow=False)]
        assert logged[0] == "run_started" and logged[-1] == "run_completed"
