"""Cron schedules as Temporal schedules.

The test server does not implement schedules (its CreateSchedule is
"unimplemented"), so the schedule's action is started here by hand, exactly as
the server would start it when the cron fires.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from ascent.errors import AgentNotFound, UserError
from ascent.temporal import RUN_WORKFLOW, TemporalRuns, serving

from .scenarios import SCENARIOS


async def test_a_schedule_s_action_runs_the_agent(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    scenario = SCENARIOS[0]
    agents = scenario.agents()
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=agents)
    schedule = runs.run_schedule(scenario.start, scenario.input, cron="0 9 * * 1", name="daily")
    assert schedule.spec.cron_expressions == ["0 9 * * 1"]
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == RUN_WORKFLOW
    assert action.task_queue == task_queue

    async with serving(temporal.client, agents, task_queue=task_queue):
        fired = "daily-2026-12-07T09:00:00Z"  # the id a firing gets: the name and the time
        await temporal.client.start_workflow(
            action.workflow, *action.args, id=fired, task_queue=action.task_queue
        )
        result = await asyncio.wait_for(runs.result(fired), 60)
    assert result.final_output == "A-1 ships Monday with Parcel Co; B-2 too."
    assert result.state.run_id == fired


async def test_scheduling_says_what_the_server_refused(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    with pytest.raises(UserError, match=r"cannot schedule 'daily'.*unimplemented"):
        await runs.schedule("daily", "Support", "hello", cron="0 9 * * *")


async def test_scheduling_an_unknown_agent_fails_at_once(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=SCENARIOS[0].agents())
    with pytest.raises(AgentNotFound):
        await runs.schedule("daily", "Nobody", "hello", cron="0 9 * * *")
