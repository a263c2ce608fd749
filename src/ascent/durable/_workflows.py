"""The DBOS workflows every durable run executes, registered when this module loads.

DBOS finds a workflow by its registered name when it recovers a run, in this
process or another, so the names here are part of the stored format. DBOS is
one per process, and so is the engine whose :class:`RunWorkflows` these
workflows hand their runs to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from ..errors import UserError
from ._checkpoint import Durability
from ._runs import RunWorkflows
from ._store import RunStore

__all__ = [
    "CHECKPOINTED_RUN_WORKFLOW",
    "RUN_WORKFLOW",
    "SCHEDULED_WORKFLOW",
    "active_store",
    "checkpointed_run_workflow",
    "run_workflow",
    "scheduled_workflow",
    "set_active",
]

RUN_WORKFLOW = "ascent.durable.run"
SCHEDULED_WORKFLOW = "ascent.durable.scheduled_run"
CHECKPOINTED_RUN_WORKFLOW = "ascent.durable.checkpointed_run"

_active: RunWorkflows | None = None


def set_active(workflows: RunWorkflows | None) -> None:
    """Hand this process's durable runs to ``workflows`` (None: to nobody)."""
    global _active
    if workflows is not None and _active is not None and _active is not workflows:
        raise UserError(
            "a DurableEngine is already running in this process; DBOS, which runs "
            "the durable workflows, is one per process: stop the other engine first"
        )
    _active = workflows


def _workflows() -> RunWorkflows:
    if _active is None:  # pragma: no cover - DBOS runs workflows only after start()
        raise UserError("no DurableEngine is running in this process")
    return _active


def active_store() -> RunStore:
    """The run store of this process's durable engine (for tools inside its runs)."""
    return _workflows().store


# A workflow's arguments are stored with it and given back when it is recovered:
# arguments added later take a default, so that runs recorded before still load.
# ``server_state`` holds the ``previous_response_id`` or ``conversation_id`` a run
# began with (see :func:`ascent.run.start.new_state`).


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(
    run_id: str,
    agent: str,
    input: list[dict[str, Any]],
    session_id: str | None,
    server_state: dict[str, str] | None = None,
) -> None:
    """One durable run, from its input to its final output (or failure)."""
    await _workflows().execute(run_id, agent, input, session_id, server_state=server_state)


@DBOS.workflow(name=CHECKPOINTED_RUN_WORKFLOW)
async def checkpointed_run_workflow(
    run_id: str,
    agent: str,
    input: list[dict[str, Any]],
    session_id: str | None,
    durability: Durability,
    server_state: dict[str, str] | None = None,
) -> None:
    """One run in ``run`` or ``turns`` durability through a queue (elsewhere such a
    run has a lease, not a workflow: see :mod:`._leases`): no step per command, a
    checkpoint where it pauses, hands off and writes its session, and after each
    turn in ``turns`` (see :mod:`._checkpoint`)."""
    await _workflows().execute(
        run_id, agent, input, session_id, durability=durability, server_state=server_state
    )


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
async def scheduled_workflow(scheduled_at: datetime | str, context: dict[str, Any]) -> None:
    """A run started by a cron schedule: the workflow's id is the run's id."""
    run_id = DBOS.workflow_id
    assert run_id is not None
    await _workflows().execute_scheduled(run_id, context)
