"""The Temporal workflow's own behaviour: approvals, long waits, long histories, bad input."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Agent, RunContext, Runner, function_tool
from ascent.errors import AgentNotFound, AscentError, ModelBehaviorError, UserError
from ascent.run import RunConfig, RunState
from ascent.run.commands import ApprovalDecision
from ascent.temporal import RUN_WORKFLOW, TemporalApp, TemporalRuns, serving
from ascent.temporal.worker import sandbox_restrictions
from ascent.testing.scripted import ScriptedModel, ToolCall

from .scenarios import SCENARIOS, approval_agents, order_status

GUARD = 60.0  # a stuck workflow fails the test instead of hanging it


async def _waiting(runs: TemporalRuns, run_id: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(GUARD):
        while True:
            status = await runs.status(run_id)
            if status.status == "awaiting_approval":
                return status.waiting
            await asyncio.sleep(0.05)


async def test_approval_waits_across_a_worker_restart(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=approval_agents())
    # Without a workflow cache the first worker takes no sticky queue with it: the
    # test server, skipping time, ends the client's wait for the result early while
    # a dead worker's sticky task times out (a real server just moves the task on).
    first = serving(
        temporal.client,
        TemporalApp(agents=approval_agents()),
        task_queue=task_queue,
        max_cached_workflows=0,
    )
    async with first:
        await runs.start("Refunds", "Refund A-1", run_id="refund-1")
        waiting = await _waiting(runs, "refund-1")
    assert [w["tool_name"] for w in waiting] == ["refund"]

    # the first worker is gone; the run waits on the server, and a new worker goes on
    async with serving(
        temporal.client, TemporalApp(agents=approval_agents()), task_queue=task_queue
    ):
        await runs.decide("refund-1", {waiting[0]["call_id"]: ApprovalDecision(approved=True)})
        result = await asyncio.wait_for(runs.result("refund-1"), GUARD)
    assert result.final_output == "Done: A-1: refunded"


async def test_a_rejection_reaches_the_model(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=approval_agents())
    async with serving(
        temporal.client, TemporalApp(agents=approval_agents()), task_queue=task_queue
    ):
        await runs.start("Refunds", "Refund A-1", run_id="refund-2")
        waiting = await _waiting(runs, "refund-2")
        decision = ApprovalDecision(approved=False, reason="not this one")
        await runs.decide("refund-2", {waiting[0]["call_id"]: decision})
        result = await asyncio.wait_for(runs.result("refund-2"), GUARD)
    assert "not this one" in str(result.final_output)


async def test_a_cancelled_run_ends_as_cancelled(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=approval_agents())
    async with serving(temporal.client, approval_agents(), task_queue=task_queue):
        await runs.start("Refunds", "Refund A-1", run_id="refund-cancelled")
        await _waiting(runs, "refund-cancelled")
        await runs.cancel("refund-cancelled")
        with pytest.raises(AscentError, match="the run was cancelled"):
            await asyncio.wait_for(runs.state("refund-cancelled"), GUARD)


async def test_a_run_waits_for_days(temporal: WorkflowEnvironment, task_queue: str) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=approval_agents())
    async with serving(
        temporal.client, TemporalApp(agents=approval_agents()), task_queue=task_queue
    ):
        await runs.start("Refunds", "Refund A-1", run_id="refund-3")
        waiting = await _waiting(runs, "refund-3")
        paused_at = (await runs.status("refund-3")).paused_at
        await temporal.sleep(timedelta(days=3))  # the test server skips the time
        await runs.decide("refund-3", {waiting[0]["call_id"]: ApprovalDecision(approved=True)})
        reply = await asyncio.wait_for(runs.reply("refund-3"), GUARD)
    assert paused_at is not None
    waited = datetime.fromisoformat(reply.finished_at) - datetime.fromisoformat(paused_at)
    assert waited >= timedelta(days=3)
    assert RunState.model_validate(reply.state).status == "completed"


async def test_a_long_run_continues_as_new_and_loses_nothing(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "tools")
    expected = await Runner.run(scenario.agents()[0], scenario.input)
    agents = scenario.agents()
    runs = TemporalRuns(
        temporal.client, task_queue=task_queue, agents=agents, continue_as_new_after=1
    )
    async with serving(temporal.client, TemporalApp(agents=agents), task_queue=task_queue):
        await runs.start("Support", scenario.input, run_id="long-1")
        reply = await asyncio.wait_for(runs.reply("long-1"), GUARD)
        result = await runs.result("long-1")
    assert reply.generation >= 1  # it did continue as new
    assert result.final_output == expected.final_output
    assert [i.model_dump() for i in result.new_items] == [
        i.model_dump() for i in expected.new_items
    ]


async def _fails(runs: TemporalRuns, run_id: str) -> BaseException:
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(runs.state(run_id), GUARD)
    return caught.value


async def test_an_unknown_agent_fails_the_run_clearly(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    agents = approval_agents()
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, agents, task_queue=task_queue):
        await runs.start("Nobody", "hello", run_id="bad-agent")
        error = await _fails(runs, "bad-agent")
    assert isinstance(error, AgentNotFound)
    assert "no agent named 'Nobody'" in str(error)


async def test_a_call_to_an_unknown_tool_can_fail_the_run(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    agent = Agent(
        name="Support",
        model=ScriptedModel([ToolCall("no_such_tool", {})]),
        tools=[order_status],
    )
    app = TemporalApp(agents=[agent], config=RunConfig(on_unknown_tool="raise"))
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start("Support", "hello", run_id="bad-tool")
        error = await _fails(runs, "bad-tool")
    assert isinstance(error, ModelBehaviorError)
    assert "'no_such_tool'" in str(error)


async def test_a_state_from_a_newer_version_is_refused(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    agents = approval_agents()
    state = RunState(starting_agent="Refunds", current_agent="Refunds", input=[], version=99)
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, agents, task_queue=task_queue):
        await runs.start("Refunds", state, run_id="newer")
        error = await _fails(runs, "newer")
    assert isinstance(error, UserError)
    assert "format version 99" in str(error)


async def test_an_error_in_an_activity_is_not_retried_forever(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    agent = Agent(name="Support", model="no-such-provider:model")
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, [agent], task_queue=task_queue):
        await runs.start("Support", "hello", run_id="bad-model")
        error = await _fails(runs, "bad-model")
    assert isinstance(error, UserError)


async def test_a_malformed_request_fails_the_run(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, approval_agents(), task_queue=task_queue):
        await temporal.client.start_workflow(
            RUN_WORKFLOW, {"nothing": "useful"}, id="malformed", task_queue=task_queue
        )
        error = await _fails(runs, "malformed")
    assert isinstance(error, UserError)
    assert "not a run request" in str(error)


async def test_a_malformed_state_or_decision_does_not_stick_the_run(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=approval_agents())
    async with serving(temporal.client, approval_agents(), task_queue=task_queue):
        await temporal.client.start_workflow(
            RUN_WORKFLOW,
            {"agent": "Refunds", "state": {"turn": "many"}},
            id="bad-state",
            task_queue=task_queue,
        )
        error = await _fails(runs, "bad-state")
        assert isinstance(error, UserError)
        assert "not a run state" in str(error)

        await runs.start("Refunds", "Refund A-1", run_id="bad-decision")
        waiting = await _waiting(runs, "bad-decision")
        handle = temporal.client.get_workflow_handle("bad-decision")
        await handle.signal("ascent.decide", ["not", "a", "map"])
        await handle.signal("ascent.decide", {waiting[0]["call_id"]: {"approved": "perhaps"}})
        await runs.decide("bad-decision", {waiting[0]["call_id"]: ApprovalDecision(approved=True)})
        state = await asyncio.wait_for(runs.state("bad-decision"), GUARD)
    assert state.final_output == "Done: A-1: refunded"


def test_the_workflow_module_stays_in_the_sandbox() -> None:
    passed = sandbox_restrictions().passthrough_modules
    assert "ascent.run" in passed
    assert "ascent.temporal._workflow" not in passed
    assert not any(name in passed for name in ("ascent", "ascent.temporal"))


async def test_tools_get_the_app_s_context(temporal: WorkflowEnvironment, task_queue: str) -> None:
    @function_tool
    def whoami(context: RunContext[dict[str, str]]) -> str:
        """Who asks."""
        return context.context["user"]

    agent = Agent(
        name="Support",
        model=ScriptedModel([ToolCall("whoami", {}), lambda request: request.input[-1].output]),
        tools=[whoami],
    )
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    app = TemporalApp(agents=[agent], context={"user": "u-7"})
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start("Support", "who am I?", run_id="ctx")
        state = await asyncio.wait_for(runs.state("ctx"), GUARD)
    assert state.final_output == "u-7"
