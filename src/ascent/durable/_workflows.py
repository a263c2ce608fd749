"""The DBOS workflows every durable run executes, registered when this module loads.

DBOS finds a workflow by its registered name when it recovers a run, in this
process or another, so the names here are part of the stored format. DBOS is
one per process, and so is the engine these workflows report to.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dbos import DBOS

from ..errors import UserError

if TYPE_CHECKING:
    from .engine import DurableEngine

__all__ = ["RUN_WORKFLOW", "SCHEDULED_WORKFLOW", "active_engine", "run_workflow", "set_active"]

RUN_WORKFLOW = "ascent.durable.run"
SCHEDULED_WORKFLOW = "ascent.durable.scheduled_run"

_active: DurableEngine | None = None


def set_active(engine: DurableEngine | None) -> None:
    global _active
    if engine is not None and _active is not None and _active is not engine:
        raise UserError(
            "a DurableEngine is already running in this process; DBOS, which runs "
            "the durable workflows, is one per process: stop the other engine first"
        )
    _active = engine


def active_engine() -> DurableEngine:
    if _active is None:  # pragma: no cover - DBOS runs workflows only after start()
        raise UserError("no DurableEngine is running in this process")
    return _active


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(
    run_id: str, agent: str, input: list[dict[str, Any]], session_id: str | None
) -> None:
    """One durable run, from its input to its final output (or failure)."""
    await active_engine()._drive(run_id, agent, input, session_id)


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
async def scheduled_workflow(scheduled_at: datetime | str, context: dict[str, Any]) -> None:
    """A run started by a cron schedule: the workflow's id is the run's id."""
    run_id = DBOS.workflow_id
    assert run_id is not None
    await active_engine()._drive_scheduled(run_id, context, str(scheduled_at))
