"""Temporal runs continue a session's conversation and add their items to it."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Agent, InMemorySession
from ascent.errors import UserError
from ascent.models.base import ModelRequest
from ascent.run import RunState
from ascent.temporal import TemporalApp, TemporalRuns, serving
from ascent.testing.scripted import ScriptedModel

from .scenarios import SCENARIOS


def _count(request: ModelRequest) -> str:
    return f"I see {len(request.input)} items"


def _agents() -> list[Agent]:
    return [Agent(name="Counter", instructions="Count.", model=ScriptedModel([_count] * 4))]


async def test_runs_continue_their_session(temporal: WorkflowEnvironment, task_queue: str) -> None:
    sessions: dict[str, InMemorySession] = {}

    def open_session(session_id: str) -> InMemorySession:
        return sessions.setdefault(session_id, InMemorySession())

    app = TemporalApp(agents=_agents(), sessions=open_session)
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start("Counter", "one", run_id="s-1", session_id="chat")
        first = await asyncio.wait_for(runs.state("s-1"), 60)
        await runs.start("Counter", "two", run_id="s-2", session_id="chat")
        second = await asyncio.wait_for(runs.state("s-2"), 60)
    assert first.final_output == "I see 1 items"
    assert second.final_output == "I see 3 items"  # the first run's question and answer, then this
    items = await sessions["chat"].get_items()
    assert [i.model_dump(mode="json") for i in items] == [
        i.model_dump(mode="json") for i in second.items
    ]
    assert len(items) == 4


async def test_a_session_without_a_way_to_open_it_fails_clearly(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, _agents(), task_queue=task_queue):
        await runs.start("Counter", "one", run_id="s-3", session_id="chat")
        with pytest.raises(UserError, match="opens none"):
            await asyncio.wait_for(runs.state("s-3"), 60)


async def test_a_run_that_continues_as_new_saves_every_item(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    scenario = SCENARIOS[0]
    session = InMemorySession()
    app = TemporalApp(agents=scenario.agents(), sessions=lambda _: session)
    runs = TemporalRuns(temporal.client, task_queue=task_queue, continue_as_new_after=1)
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start(scenario.start, scenario.input, run_id="s-long", session_id="long")
        reply = await asyncio.wait_for(runs.reply("s-long"), 60)
    assert reply.generation >= 1
    state = RunState.model_validate(reply.state)
    items = await session.get_items()
    assert [i.model_dump(mode="json") for i in items] == [
        i.model_dump(mode="json") for i in state.items
    ]
