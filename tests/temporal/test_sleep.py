"""A tool's ``durable_sleep`` on Temporal: a workflow timer, not a sleeping activity."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from ascent import Agent, function_tool
from ascent.durable import durable_sleep
from ascent.errors import AscentError
from ascent.temporal import TemporalApp, TemporalRuns, serving
from ascent.testing.scripted import ScriptedModel, ToolCall

from .histories import timer_started
from .scenarios import SLEEPS, THREE_DAYS, sleep_agents

GUARD = 60.0  # a stuck workflow fails the test instead of hanging it


async def _events(temporal: WorkflowEnvironment, run_id: str) -> list[Any]:
    history = await temporal.client.get_workflow_handle(run_id).fetch_history()
    return list(history.events)


def _of(events: list[Any], kind: int) -> list[Any]:
    return [e for e in events if e.event_type == kind]


async def test_a_tool_sleeps_three_days_on_a_timer(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    SLEEPS.clear()
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=sleep_agents())
    async with serving(temporal.client, TemporalApp(agents=sleep_agents()), task_queue=task_queue):
        await runs.start("Orders", "Tell me when A-1 arrives", run_id="sleep-1")
        await timer_started(temporal.client, "sleep-1")
        # the test server skips the time (waiting for the result alone ends early there)
        await temporal.sleep(timedelta(days=3))
        result = await asyncio.wait_for(runs.result("sleep-1"), GUARD)
    assert result.final_output == "Arrived: A-1: delivered"
    # the tool began its sleep, the step ended; after the timer it ran again and woke
    assert SLEEPS == ["began", "began", "woke"]

    events = await _events(temporal, "sleep-1")
    timers = _of(events, EventType.EVENT_TYPE_TIMER_STARTED)
    assert len(timers) == 1
    # three days from when the step began (the workflow's clock moved on a little since)
    fires_after = timers[0].timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    assert timedelta(seconds=THREE_DAYS - 60) < fires_after <= timedelta(seconds=THREE_DAYS)
    assert len(_of(events, EventType.EVENT_TYPE_TIMER_FIRED)) == 1
    # no activity ran while the timer did: the one before it had completed, on its
    # first attempt (it did not sleep until a timeout), and the next began after
    timer_at = events.index(timers[0])
    fired_at = events.index(_of(events, EventType.EVENT_TYPE_TIMER_FIRED)[0])
    kinds = [e.event_type for e in events]
    started = [i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    closed = [
        i
        for i, k in enumerate(kinds)
        if k
        in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        )
    ]
    assert len(started) == len(closed)
    assert not any(timer_at < i < fired_at for i in started + closed)
    assert all(
        e.activity_task_started_event_attributes.attempt == 1
        for e in _of(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    )
    assert not _of(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)
    assert not _of(events, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT)


async def test_a_worker_restart_does_not_start_the_sleep_over(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    SLEEPS.clear()
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=sleep_agents())
    # no workflow cache: the first worker takes no sticky queue with it
    first = serving(
        temporal.client,
        TemporalApp(agents=sleep_agents()),
        task_queue=task_queue,
        max_cached_workflows=0,
    )
    async with first:
        await runs.start("Orders", "Tell me when A-1 arrives", run_id="sleep-2")
        await timer_started(temporal.client, "sleep-2")
    assert SLEEPS == ["began"]

    # the first worker is gone; the timer runs on the server, and a new worker goes on
    async with serving(temporal.client, TemporalApp(agents=sleep_agents()), task_queue=task_queue):
        await temporal.sleep(timedelta(days=3))
        reply = await asyncio.wait_for(runs.reply("sleep-2"), GUARD)
    assert SLEEPS == ["began", "began", "woke"]
    events = await _events(temporal, "sleep-2")
    # one timer for the whole sleep: the new worker did not begin another
    assert len(_of(events, EventType.EVENT_TYPE_TIMER_STARTED)) == 1
    assert reply.state["final_output"] == "Arrived: A-1: delivered"


async def test_a_sleeping_run_can_be_cancelled(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    SLEEPS.clear()
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=sleep_agents())
    async with serving(temporal.client, TemporalApp(agents=sleep_agents()), task_queue=task_queue):
        await runs.start("Orders", "Tell me when A-1 arrives", run_id="sleep-3")
        await timer_started(temporal.client, "sleep-3")
        await runs.cancel("sleep-3")
        with pytest.raises(AscentError, match="the run was cancelled"):
            await asyncio.wait_for(runs.state("sleep-3"), GUARD)
    assert SLEEPS == ["began"]  # the tool never woke


@function_tool
async def two_waits() -> str:
    """Wait a day for the truck, then two days for the ship."""
    SLEEPS.append("truck")
    await durable_sleep(24 * 3600, key="truck")
    SLEEPS.append("ship")
    await durable_sleep(2 * 24 * 3600, key="ship")
    SLEEPS.append("done")
    return "arrived"


async def test_sleeps_with_their_own_keys_take_a_timer_each(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    SLEEPS.clear()
    model = ScriptedModel([ToolCall("two_waits", {}), "It arrived."])
    agent = Agent(name="Freight", instructions="Wait.", model=model, tools=[two_waits])
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=[agent])
    async with serving(temporal.client, [agent], task_queue=task_queue):
        await runs.start("Freight", "Wait for it", run_id="sleep-4")
        await timer_started(temporal.client, "sleep-4")
        await temporal.sleep(timedelta(days=1))
        await timer_started(temporal.client, "sleep-4", count=2)
        await temporal.sleep(timedelta(days=2))
        state = await asyncio.wait_for(runs.state("sleep-4"), GUARD)
    assert state.final_output == "It arrived."
    # each run of the step passes the sleeps whose wake times have come
    assert SLEEPS == ["truck", "truck", "ship", "truck", "ship", "done"]
    events = await _events(temporal, "sleep-4")
    timers = _of(events, EventType.EVENT_TYPE_TIMER_STARTED)
    durations = [
        t.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() for t in timers
    ]
    assert len(durations) == 2
    assert timedelta(hours=23) < durations[0] <= timedelta(days=1)
    assert timedelta(days=1, hours=23) < durations[1] <= timedelta(days=2)
