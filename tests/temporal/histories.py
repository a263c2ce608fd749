"""Recorded histories of the scenarios, kept in ``histories/`` as fixtures.

A later change to the loop or the workflow that would take other steps on a
recorded run fails their replay (``test_replay.py``). Record them again, on
purpose, only when a change is meant to break replay (and say so in the
release notes): ``uv run python -m tests.temporal.histories [NAME...]``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from ascent import Agent, InMemorySession
from ascent.items import input_to_items
from ascent.run.commands import ApprovalDecision
from ascent.temporal import TemporalApp, TemporalRuns, serving

from .scenarios import SCENARIOS, approval_agents, sleep_agents

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "ascent-replay"

# name -> the agents of its runs, the starting agent and the input
RECORDED: dict[str, tuple[Callable[[], list[Agent]], str, str]] = {
    **{s.name: (s.agents, s.start, s.input) for s in SCENARIOS},
    "approval": (approval_agents, "Refunds", "Refund A-1"),
    "continued_as_new": (SCENARIOS[0].agents, SCENARIOS[0].start, SCENARIOS[0].input),
    "session": (SCENARIOS[0].agents, SCENARIOS[0].start, SCENARIOS[0].input),
    # a run a service keeps the record of: its pause and end are reported in activities
    "served_approval": (approval_agents, "Refunds", "Refund A-1"),
    # a service's run on a session: it takes its turn there first (an activity)
    "served_session": (SCENARIOS[0].agents, SCENARIOS[0].start, SCENARIOS[0].input),
    # a tool's durable_sleep: a workflow timer, then the tool step again
    "durable_sleep": (sleep_agents, "Orders", "Tell me when A-1 arrives"),
}


class _Records:
    """Run records nobody reads: what a served run reports, while it is recorded."""

    async def flush(self, run_id: str) -> None:
        pass

    async def paused(self, run_id: str, agent: str, requests: list[dict[str, Any]]) -> None:
        pass

    async def ended(self, run_id: str, **end: Any) -> None:
        pass

    async def take_turn(self, run_id: str, session_id: str, *, timeout: float) -> bool:
        return True  # no run before it


async def timer_started(client: Client, run_id: str, *, count: int = 1) -> None:
    """Wait until the run has started ``count`` timers (a tool's durable_sleep)."""
    handle = client.get_workflow_handle(run_id)
    async with asyncio.timeout(60):
        while True:
            history = await handle.fetch_history()
            kinds = [e.event_type for e in history.events]
            if kinds.count(EventType.EVENT_TYPE_TIMER_STARTED) >= count:
                return
            await asyncio.sleep(0.05)


async def record_one(
    client: Client, name: str, *, skip: Callable[[timedelta], Awaitable[None]] | None = None
) -> str:
    """Run the scenario ``name`` and return its history as JSON (the last run's,
    for a run that continued as new). ``skip`` moves the test server's clock on
    (``WorkflowEnvironment.sleep``): waiting for a result alone does not carry a
    run past a timer of days there, the wait ends first."""
    make, start, text = RECORDED[name]
    agents = make()
    runs = TemporalRuns(
        client,
        task_queue=TASK_QUEUE,
        continue_as_new_after=1 if name == "continued_as_new" else 10_000,
    )
    session = InMemorySession()
    app = TemporalApp(agents=agents, sessions=lambda _: session, records=_Records())
    async with serving(client, app, task_queue=TASK_QUEUE):
        await session.add_items(input_to_items("Earlier question"))
        session_id = "chat" if name in ("session", "served_session") else None
        served = name in ("served_approval", "served_session")
        await runs.start(
            start,
            text,
            run_id=name,
            session_id=session_id,
            record=served,
            take_turns=name == "served_session",
        )
        if name in ("approval", "served_approval"):
            while (status := await runs.status(name)).status != "awaiting_approval":
                await asyncio.sleep(0.05)
            call = status.waiting[0]["call_id"]
            await runs.decide(name, {call: ApprovalDecision(approved=True)})
        if name == "durable_sleep":
            assert skip is not None, "the durable_sleep scenario needs skip="
            await timer_started(client, name)
            await skip(timedelta(days=3))
        await asyncio.wait_for(runs.state(name), 60)
    history = await client.get_workflow_handle(name).fetch_history()
    return json.dumps(json.loads(history.to_json()), indent=1, sort_keys=True) + "\n"


async def _record(names: list[str]) -> None:
    from temporalio.testing import WorkflowEnvironment

    from .conftest import server_binary

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server_binary())
    try:
        HISTORIES.mkdir(exist_ok=True)
        for name in names:
            (HISTORIES / f"{name}.json").write_text(
                await record_one(env.client, name, skip=env.sleep)
            )
    finally:
        await env.shutdown()


if __name__ == "__main__":
    import sys

    asyncio.run(_record(sys.argv[1:] or list(RECORDED)))
