"""Cron schedules that start durable runs, persisted in the database by DBOS.

Every replica runs DBOS's scheduler; a firing's workflow id is derived from
the schedule and the time, so a firing starts one run however many replicas
see it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dbos import DBOS
from dbos._error import DBOSException

from ..errors import UserError
from ..items import Item
from ..run.registry import AgentRegistry
from ._inputs import input_items
from ._workflows import SCHEDULED_WORKFLOW, scheduled_workflow
from .records import Schedule

__all__ = ["Schedules"]


class Schedules:
    """A durable engine's cron schedules; a firing starts a durable run like any other."""

    def __init__(self, agents: AgentRegistry) -> None:
        self.agents = agents

    async def schedule(
        self,
        name: str,
        agent: str,
        input: str | list[Item] | list[dict[str, Any]],
        *,
        cron: str,
        tenant: str | None = None,
        session_id: str | None = None,
    ) -> Schedule:
        """Run ``agent`` on ``input`` each time ``cron`` fires (five fields, or six
        with seconds first), until :meth:`unschedule`. Replaces a schedule of the
        same name."""
        self.agents.get_agent(agent)
        items = input_items(input)
        schedule = Schedule(
            name=name,
            agent=agent,
            input=input if isinstance(input, str) else items,
            cron=cron,
            tenant=tenant,
            session_id=session_id,
        )

        def create() -> None:
            if DBOS.get_schedule(name) is not None:
                DBOS.delete_schedule(name)
            DBOS.create_schedule(
                schedule_name=name,
                workflow_fn=scheduled_workflow,
                schedule=cron,
                context=schedule.model_dump(mode="json"),
            )

        try:
            await asyncio.to_thread(create)
        except DBOSException as exc:
            raise UserError(f"cannot schedule {name!r}: {exc}") from None
        return schedule

    async def list_schedules(self, *, tenant: str | None = None) -> list[Schedule]:
        found = await asyncio.to_thread(DBOS.list_schedules, workflow_name=SCHEDULED_WORKFLOW)
        result = []
        for entry in found:
            context = entry["context"]
            if not isinstance(context, dict) or context.get("tenant") != tenant:
                continue
            result.append(Schedule.model_validate({**context, "status": entry["status"]}))
        return result

    async def unschedule(self, name: str, *, tenant: str | None = None) -> None:
        """Delete the schedule ``name`` (runs it started are kept)."""
        if not any(s.name == name for s in await self.list_schedules(tenant=tenant)):
            raise UserError(f"no schedule named {name!r}")
        await asyncio.to_thread(DBOS.delete_schedule, name)
