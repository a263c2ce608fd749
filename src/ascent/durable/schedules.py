"""Cron schedules that start durable runs, persisted in the database by DBOS.

Every replica runs DBOS's scheduler; a firing's workflow id is derived from
the schedule and the time, so a firing starts one run however many replicas
see it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dbos import DBOS
from dbos._error import DBOSException

from ..errors import UserError
from ..items import Item
from ._inputs import input_items
from ._workflows import SCHEDULED_WORKFLOW, scheduled_workflow
from .records import RunRecord, Schedule

if TYPE_CHECKING:
    from ..agent import Agent
    from ._store import RunStore

__all__ = ["Schedules"]


class Schedules:
    """The scheduling half of :class:`~ascent.durable.DurableEngine`."""

    if TYPE_CHECKING:

        @property
        def store(self) -> RunStore: ...

        def _agent(self, name: str) -> Agent[Any]: ...
        def _trace_id(self, run_id: str) -> str | None: ...
        async def _drive(
            self, run_id: str, agent: str, items: list[dict[str, Any]], session_id: str | None
        ) -> None: ...

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
        self._agent(agent)
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

    async def list_runs(
        self, *, tenant: str | None = None, schedule: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The latest runs of ``tenant`` (of one schedule, if given), newest first."""
        return await asyncio.to_thread(
            self.store.list_runs, tenant=tenant, schedule=schedule, limit=limit
        )

    async def _drive_scheduled(self, run_id: str, context: dict[str, Any], fired_at: str) -> None:
        schedule = Schedule.model_validate(context)
        await DBOS.run_step_async(
            {"name": "create"}, self._create_scheduled_run, run_id, schedule.model_dump(mode="json")
        )
        await self._drive(run_id, schedule.agent, input_items(schedule.input), schedule.session_id)

    def _create_scheduled_run(self, run_id: str, context: dict[str, Any]) -> None:
        from datetime import UTC, datetime

        schedule = Schedule.model_validate(context)
        now = datetime.now(UTC)
        self.store.insert_run(
            RunRecord(
                id=run_id,
                agent=schedule.agent,
                tenant=schedule.tenant,
                session_id=schedule.session_id,
                status="running",
                trace_id=self._trace_id(run_id),
                schedule=schedule.name,
                created_at=now,
                updated_at=now,
            ),
            events=[("run_started", {"agent": schedule.agent, "schedule": schedule.name}, None)],
        )
