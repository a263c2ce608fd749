"""Runs the engine owns and recovers itself: ``run`` and ``turns`` durability without DBOS.

A run in ``run`` or ``turns`` durability records nothing per command, so a DBOS
workflow around it bought only its recovery, for two transactions per run (the
workflow's start and its end) and the workflow machinery's CPU. Instead the
run's start writes a lease in the transaction that inserts its record: the
replica that owns the run and what it began with. The run's end deletes the
lease in the transaction that writes the end. A replica that starts resumes
the runs it still owns; one that takes over a dead replica (the same claim
that recovers its DBOS workflows) moves the dead one's leases to itself and
resumes them. Either way a run resumes from its last checkpoint
(``ascent_run_checkpoints``), or from its start if it wrote none.

::

    ascent_run_leases(run_id PK, executor_id, data, created_at)   index on executor_id

A lease whose run is over (cancelled while it ran, say) is deleted when it is
found. Runs through a queue (``worker_concurrency``) keep their DBOS workflow:
the queue is how replicas share them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..storage import write_transaction
from ._checkpoint import Durability
from .records import TERMINAL_STATUSES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ._store import RunStore

__all__ = [
    "Lease",
    "adopt_leases",
    "has_lease",
    "lease_remover",
    "lease_writer",
    "owned_leases",
    "release_lease",
    "write_lease",
]


class Lease(BaseModel):
    """What a run began with: what its recovery needs (stored as JSON)."""

    agent: str
    input: list[dict[str, Any]]
    session_id: str | None = None
    durability: Durability
    server_state: dict[str, str] = Field(default_factory=dict)


def lease_writer(
    store: RunStore, run_id: str, executor_id: str, lease: Lease
) -> Callable[[Connection], None]:
    """A write of the run's lease, inside the caller's transaction (it reads nothing)."""
    row = {
        "run_id": run_id,
        "executor_id": executor_id,
        "data": lease.model_dump_json(),
        "created_at": time.time(),
    }
    statement = store.sql.insert_lease

    def write(conn: Connection) -> None:
        conn.execute(statement, row)

    return write


def lease_remover(store: RunStore, run_id: str) -> Callable[[Connection], None]:
    """A delete of the run's lease, inside the caller's transaction (with its end)."""
    statement = store.sql.delete_lease

    def remove(conn: Connection) -> None:
        conn.execute(statement, {"b_run_id": run_id})

    return remove


def write_lease(store: RunStore, run_id: str, executor_id: str, lease: Lease) -> None:
    """Lease a run recorded without one (its start was cut before it ran)."""
    with write_transaction(store.engine) as conn:
        lease_remover(store, run_id)(conn)
        lease_writer(store, run_id, executor_id, lease)(conn)


def release_lease(store: RunStore, run_id: str) -> None:
    """Delete the run's lease (it is over: nobody is to resume it)."""
    with write_transaction(store.engine, pipelined=True) as conn:
        lease_remover(store, run_id)(conn)


def has_lease(store: RunStore, run_id: str) -> bool:
    from sqlalchemy import select

    table = store.tables.leases
    with store.engine.connect() as conn:
        found = conn.execute(select(table.c.run_id).where(table.c.run_id == run_id)).first()
    return found is not None


def owned_leases(store: RunStore, executor_id: str) -> list[tuple[str, Lease]]:
    """The runs ``executor_id`` owns that are not over, oldest first; the leases
    of those that are over are deleted."""
    from sqlalchemy import select

    leases, runs = store.tables.leases, store.tables.runs
    query = (
        select(leases.c.run_id, leases.c.data, runs.c.status)
        .select_from(leases.outerjoin(runs, runs.c.id == leases.c.run_id))
        .where(leases.c.executor_id == executor_id)
        .order_by(leases.c.created_at)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for run_id, data, status in rows:
        if status is None or status in TERMINAL_STATUSES:
            release_lease(store, run_id)
        else:
            found.append((run_id, Lease.model_validate_json(data)))
    return found


def adopt_leases(store: RunStore, dead: str, by: str) -> None:
    """Move the leases of the replica ``dead`` to ``by`` (which claimed it)."""
    table = store.tables.leases
    with write_transaction(store.engine, pipelined=True) as conn:
        conn.execute(table.update().where(table.c.executor_id == dead).values(executor_id=by))
