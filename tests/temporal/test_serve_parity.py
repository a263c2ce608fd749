"""The service on Temporal as on DBOS, where the two once differed: a run's trace,
a conversation the provider keeps (``previous_response_id``, ``conversation_id``),
the usage of a failed run, and runs on one session taking turns.

Where a DBOS test's body takes only a client or an engine factory, it is driven
here as it is, on a real Temporal test server (``tests/server/test_api.py``,
``tests/server/test_server_conversation.py``, ``tests/durable/test_sessions.py``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Agent
from ascent.errors import ModelBehaviorError
from ascent.models.base import Model
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.server import create_app
from ascent.storage import dispose_engines
from ascent.temporal import TemporalEngine
from ascent.testing import ScriptedModel, ToolCall
from ascent.testing.mock_openai import MockOpenAIServer

from ..durable import test_sessions as dbos_sessions
from ..sample_tools import get_order, lookup, refund
from ..server import served_agents
from ..server import test_api as dbos_api
from ..server import test_server_conversation as dbos_conversation
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
    async with service(temporal, task_queue, database_url, _shop()) as (_stack, acme):
        await dbos_api.test_a_runs_trace_has_its_model_and_tool_spans(acme)
        [run] = (await acme.get("/v1/runs")).json()["runs"]
        body = (await acme.get(f"/v1/traces/{run['trace_id']}")).json()
        assert body["trace"]["error"] is None
        assert "agent" in [span["kind"] for span in body["spans"]]


# ------------------------------------------------- a conversation the provider keeps


def _shop() -> list[Agent[Any]]:
    return [a for a in served_agents.create_agents() if a.name == "Shop"]


@pytest.fixture
async def chained(mock_openai: MockOpenAIServer) -> AsyncIterator[list[Agent[Any]]]:
    """The Shop agent, and ``Chained`` on the OpenAI Responses API (the mock server)."""
    async with openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="k", timeout=5) as client:
        model = OpenAIResponsesModel(model="gpt-4.1", client=client)
        chained = Agent(name="Chained", instructions="Help.", model=model, tools=[get_order])
        yield [*_shop(), chained]


async def test_a_served_run_continues_a_response_and_sends_only_new_items(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        await dbos_conversation.test_a_served_run_continues_a_response_and_sends_only_new_items(
            acme, mock_openai, "steps"
        )


async def test_a_sessions_second_turn_in_a_conversation_sends_only_its_message(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        await (
            dbos_conversation.test_a_sessions_second_turn_in_a_conversation_sends_only_its_message(
                acme, mock_openai
            )
        )


async def test_the_checks_of_a_provider_kept_conversation_are_dbos_s(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    chained: list[Agent[Any]],
    mock_openai: MockOpenAIServer,
) -> None:
    async with service(temporal, task_queue, database_url, chained) as (_stack, acme):
        for field, value in (("previous_response_id", "resp_1"), ("conversation_id", "conv_1")):
            await dbos_conversation.test_an_agent_whose_model_keeps_no_conversation_is_a_400(
                acme, field, value
            )
        await dbos_conversation.test_both_fields_at_once_are_a_400(acme, mock_openai)
        await dbos_conversation.test_an_id_with_control_characters_is_a_422(acme)
        assert (await acme.get("/v1/runs")).json()["runs"] == []


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


@contextlib.asynccontextmanager
async def engine_maker(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> AsyncIterator[Callable[..., Awaitable[TemporalEngine]]]:
    """``make_engine(agents=..., model=...)`` as the DBOS tests call it: a started
    Temporal engine, with a worker of the same agents on the same database."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(*, agents: Sequence[Agent[Any]], model: Model) -> TemporalEngine:
            served = await stack.enter_async_context(
                temporal_stack(temporal, task_queue, database_url, agents, model=model)
            )
            return served.engine

        yield make


async def test_runs_on_one_session_take_turns_in_the_order_they_started(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    async with engine_maker(temporal, task_queue, database_url) as make:
        await dbos_sessions.test_runs_on_one_session_take_turns_in_the_order_they_started(
            make, database_url
        )


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
