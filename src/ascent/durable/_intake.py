"""Many queued runs started at once: the records and queue entries of a burst in
one or two transactions instead of two per run.

A subscription's consumer gets messages in bursts (a NATS fetch, RabbitMQ's
prefetched deliveries). Started one by one, each run costs a transaction for
its record, first event and outbox row, and another for DBOS's queue entry:
that, not the broker, bounds how many events a replica turns into runs per
second. Here a burst's records go in with one multi-row statement per table,
and the workflows are enqueued through DBOS's public client in a transaction
the engine owns: on PostgreSQL (DBOS's tables are in the project database) the
same transaction, so a run is queued if and only if its record exists; on
SQLite (DBOS keeps a file of its own) a second one, after the first commits.
On PostgreSQL the whole burst's queue entries are one statement: DBOS's
documented ``enqueue_workflow`` function of its system schema (for callers in
the database), called for each row of the burst's arrays; DBOS's client writes
a workflow with two statements and their round trips, which cost an intake
replica more CPU than the rest of the run's start together.
A crash between the two leaves records without a queue entry; the message that
asked for them is not acknowledged yet, and its redelivery starts them as
:meth:`DurableEngine.start_run` does any record without a workflow.

What is unusual (an id taken already, a failure of either write) falls back
to starting those runs one at a time, so each gets exactly the answer
:meth:`DurableEngine.start_run` would give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dbos import DBOSClient

from ..items import Item
from ..run.registry import AgentRegistry
from ..storage import write_transaction
from ._checkpoint import Durability
from ._inputs import input_items
from ._setup import DBOS_SCHEMA, JSONSerializer
from ._store import PendingEvent, RunStore
from ._workflows import CHECKPOINTED_RUN_WORKFLOW, RUN_WORKFLOW
from .records import RunRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["QueuedRun", "RunQueueWriter", "RunStart", "plan_burst"]


@dataclasses.dataclass(kw_only=True, frozen=True)
class RunStart:
    """One run for :meth:`DurableEngine.start_runs`; ``run_id`` is its idempotency key."""

    agent: str
    input: str | list[Item] | list[dict[str, Any]]
    run_id: str
    tenant: str | None = None

    async def start_on(self, engine: Any) -> RunRecord | Exception:
        """This run started alone by ``engine.start_run``: its record, or what that raised."""
        try:
            record: RunRecord = await engine.start_run(
                self.agent, self.input, tenant=self.tenant, run_id=self.run_id
            )
        except Exception as exc:
            return exc
        return record


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedRun:
    """A run to queue: its record and its workflow (registered name, arguments)."""

    record: RunRecord
    workflow: str
    args: tuple[Any, ...]


class RunQueueWriter:
    """Writes a burst of new queued runs: records, first events, outbox rows and
    DBOS queue entries (``queue`` of DBOS's system database at ``system_engine``,
    for ``app_version``)."""

    def __init__(
        self,
        store: RunStore,
        *,
        system_engine: Engine,
        queue: str,
        app_version: str,
        system_schema: str = DBOS_SCHEMA,
    ) -> None:
        self.store = store
        self.queue = queue
        self.app_version = app_version
        self._system_engine = system_engine
        self._shared = system_engine is store.engine
        # the application's own serializer: the workers decode what is written here
        self._serializer = JSONSerializer()
        self._client = DBOSClient(
            system_database_engine=system_engine, serializer=self._serializer, lazy=True
        )
        self._burst_sql = (
            _ENQUEUE_BURST.format(schema=_quoted(system_schema))
            if self._shared and system_engine.dialect.name == "postgresql"
            else None
        )

    def write(
        self,
        runs: Sequence[QueuedRun],
        *,
        first_events: Callable[[RunRecord], Sequence[PendingEvent]],
    ) -> set[str]:
        """Queue those of ``runs`` (none of them on a session) whose id is free;
        returns their ids, once every one and its queue entry are committed. The
        others (started before, or the write failed) are the caller's to start
        one by one."""
        workflows = {run.record.id: run for run in runs}
        records = [run.record for run in runs]

        def enqueue(conn: Connection, added: list[RunRecord]) -> None:
            if self._burst_sql is not None:
                self._enqueue_burst(conn, [workflows[record.id] for record in added])
                return
            for record in added:
                self._enqueue(conn, workflows[record.id])

        if self._shared:
            added = self.store.insert_queued_runs(records, first_events=first_events, also=enqueue)
            return {record.id for record in added or ()}
        added = self.store.insert_queued_runs(records, first_events=first_events)
        if not added:
            return set()
        try:
            with write_transaction(self._system_engine) as conn:
                enqueue(conn, added)
        except Exception:  # the records stand: the one-by-one start finds and queues them
            return set()
        return {record.id for record in added}

    def _enqueue(self, conn: Connection, run: QueuedRun) -> None:
        self._client.enqueue_in_transaction(
            conn,
            {
                "queue_name": self.queue,
                "workflow_name": run.workflow,
                "workflow_id": run.record.id,
                "app_version": self.app_version,
            },
            *run.args,
        )

    def _enqueue_burst(self, conn: Connection, runs: Sequence[QueuedRun]) -> None:
        """Every run's queue entry with one statement (PostgreSQL): the inputs as DBOS's
        portable JSON (the positional arguments, each a JSON value), as its client
        writes them for this serializer."""
        serialize = self._serializer.serialize
        conn.exec_driver_sql(
            self._burst_sql or "",
            {
                "queue": self.queue,
                "version": self.app_version,
                "ids": [run.record.id for run in runs],
                "names": [run.workflow for run in runs],
                "args": [serialize(list(run.args)) for run in runs],
            },
        )

    def close(self) -> None:
        self._client.destroy()


# DBOS's enqueue_workflow (a documented function of its system schema) once per row
# of the burst: the positional arguments arrive as one JSON array each, made a JSON[]
_ENQUEUE_BURST = (
    "SELECT {schema}.enqueue_workflow("
    "workflow_name => w.name, queue_name => %(queue)s, "
    "positional_args => ARRAY(SELECT json_array_elements(w.args::json)), "
    "workflow_id => w.id, app_version => %(version)s) "
    "FROM unnest(%(ids)b::text[], %(names)b::text[], %(args)b::text[]) AS w(id, name, args)"
)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plan_burst(
    starts: Sequence[RunStart],
    *,
    agents: AgentRegistry,
    durability: Durability,
    trace_id: Callable[[str], str | None],
) -> tuple[list[RunRecord | Exception | None], list[tuple[int, QueuedRun]]]:
    """What a burst of ``starts`` comes to: an answer for each start decided now (an
    unknown agent, bad input) or None, and the queued runs to write (with their
    index among ``starts``). A run id seen earlier in the burst gets neither: its
    start, made alone, finds the first."""
    answers: list[RunRecord | Exception | None] = [None] * len(starts)
    batch: list[tuple[int, QueuedRun]] = []
    seen: set[str] = set()
    now = datetime.now(UTC)
    for index, start in enumerate(starts):
        if start.run_id in seen:
            continue
        try:
            agents.get_agent(start.agent)
            args: tuple[Any, ...] = (start.run_id, start.agent, input_items(start.input), None)
        except Exception as exc:
            answers[index] = exc
            continue
        seen.add(start.run_id)
        record = RunRecord(
            id=start.run_id,
            agent=start.agent,
            tenant=start.tenant,
            status="queued",
            trace_id=trace_id(start.run_id),
            created_at=now,
            updated_at=now,
        )
        if durability == "steps":
            batch.append((index, QueuedRun(record=record, workflow=RUN_WORKFLOW, args=args)))
        else:
            workflow, args = CHECKPOINTED_RUN_WORKFLOW, (*args, durability)
            batch.append((index, QueuedRun(record=record, workflow=workflow, args=args)))
    return answers, batch
