"""The events of Temporal runs reach the worker's event log, as the run goes."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from ascent.run.commands import ApprovalDecision
from ascent.temporal import MemoryEventLog, TemporalApp, TemporalRuns, serving

from .scenarios import SCENARIOS, approval_agents


async def test_a_run_s_events_reach_the_log(temporal: WorkflowEnvironment, task_queue: str) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "handoff_structured")
    log = MemoryEventLog()
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    app = TemporalApp(agents=scenario.agents(), events=log)
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start(scenario.start, scenario.input, run_id="events-1")
        await asyncio.wait_for(runs.state("events-1"), 60)
    events = log.events("events-1")
    changed = [e.agent for e in events if e.type == "agent_changed"]
    assert changed == ["Triage", "Billing"]
    items = [e.name for e in events if e.type == "item"]
    assert "handoff" in items
    assert "tool_output" in items
    # the model's answer streams into the log as it comes, delta by delta
    deltas = "".join(e.delta for e in events if e.type == "text_delta")
    assert deltas.endswith('{"order_id": "A-1", "status": "shipped Monday"}')


async def test_a_follower_sees_the_pause_for_approval(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    log = MemoryEventLog()
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    app = TemporalApp(agents=approval_agents(), events=log)
    async with serving(temporal.client, app, task_queue=task_queue):
        await runs.start("Refunds", "Refund A-1", run_id="events-2")
        seen = 0
        pause = None
        async with asyncio.timeout(60):
            while pause is None:
                fresh = await log.next_events("events-2", seen)
                seen += len(fresh)
                pause = next((e for e in fresh if e.type == "approval_required"), None)
        assert [r.tool_name for r in pause.requests] == ["refund"]
        await runs.decide("events-2", {pause.requests[0].call_id: ApprovalDecision(approved=True)})
        await asyncio.wait_for(runs.state("events-2"), 60)
