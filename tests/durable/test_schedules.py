"""Cron schedules start durable runs; schedules are stored, listed and deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ascent import Agent, UserError
from ascent.durable import AgentNotFound, DurableEngine
from ascent.testing import ScriptedModel


async def test_a_schedule_fires_and_starts_runs(make_engine: Callable[..., Any]) -> None:
    model = ScriptedModel(lambda request: "Daily report: all good." for _ in range(50))
    engine: DurableEngine = await make_engine(
        agents=[Agent(name="reporter")], model=model, scheduler_poll_interval=0.1
    )
    schedule = await engine.schedule(
        "daily-report", "reporter", "Write the report.", cron="* * * * * *", tenant="acme"
    )
    assert schedule.cron == "* * * * * *"
    assert [s.name for s in await engine.list_schedules(tenant="acme")] == ["daily-report"]
    assert await engine.list_schedules() == []  # another tenant's schedules are not listed

    for _ in range(1000):
        runs = await engine.list_runs(tenant="acme", schedule="daily-report")
        if any(r.status == "completed" for r in runs):
            break
        await asyncio.sleep(0.02)
    done = next(r for r in runs if r.status == "completed")
    assert done.output == "Daily report: all good."
    assert done.agent == "reporter" and done.tenant == "acme"
    assert (await engine.get_run(done.id, tenant="acme")).schedule == "daily-report"

    await engine.unschedule("daily-report", tenant="acme")
    assert await engine.list_schedules(tenant="acme") == []
    with pytest.raises(UserError, match="no schedule named"):
        await engine.unschedule("daily-report", tenant="acme")


async def test_bad_schedules_are_refused(make_engine: Callable[..., Any]) -> None:
    engine: DurableEngine = await make_engine(agents=[Agent(name="reporter")])
    with pytest.raises(UserError, match="Invalid cron"):
        await engine.schedule("s", "reporter", "Go", cron="every day")
    with pytest.raises(AgentNotFound):
        await engine.schedule("s", "nobody", "Go", cron="* * * * *")
    with pytest.raises(UserError, match="needs some input"):
        await engine.schedule("s", "reporter", [], cron="* * * * *")
    first = await engine.schedule("s", "reporter", "Go", cron="0 * * * *")
    second = await engine.schedule("s", "reporter", "Go on", cron="30 * * * *")
    assert (first.cron, second.cron) == ("0 * * * *", "30 * * * *")
    assert [s.input for s in await engine.list_schedules()] == ["Go on"]  # replaced
