"""The transactional outbox: lifecycle events written with the change they report.

A run's state changes (its record and event log) and the events that tell the
world about them are written in one transaction, so an event exists if and
only if its change committed. A relay (:mod:`ascent.events`) later claims the
unpublished rows, publishes them to a broker and marks them: at least once,
each with the id it was given here, which consumers use to drop duplicates.

::

    ascent_outbox(seq PK autoincrement, id UNIQUE, type, topic, subject, tenant,
                  agent, time, data, claimed_by, claimed_until, published_at)

Claims are leases: a relay that dies holding some rows leaves them to another
once the lease runs out (a crash between publishing and marking is the one
window in which an event is published twice). On PostgreSQL relays claim with
``FOR UPDATE SKIP LOCKED``; on SQLite the write lock makes the claim atomic.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic_core import from_json, to_json

from ..storage import after_commit, insert_rows, write_transaction
from ._schema import schema

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import URL, Connection, Engine

    from .records import RunRecord

__all__ = [
    "AGENT_EVENTS_TOPIC",
    "APPROVALS_TOPIC",
    "APPROVAL_DECIDED",
    "APPROVAL_REQUIRED",
    "DECISIONS_TOPIC",
    "EVENT_SOURCE",
    "RUNS_TOPIC",
    "RUN_CANCELLED",
    "RUN_COMPLETED",
    "RUN_FAILED",
    "RUN_HANDOFF",
    "RUN_QUEUED",
    "RUN_STARTED",
    "TOPICS",
    "Outbox",
    "OutboxEntry",
    "outbox_rows",
    "reports",
]

# The catalogue's names (documented in docs/events.md). A type's version is its last
# part: a change that breaks a consumer gets a new type, never a changed ``.v1``.
RUN_QUEUED = "ascent.run.queued.v1"
RUN_STARTED = "ascent.run.started.v1"
RUN_COMPLETED = "ascent.run.completed.v1"
RUN_FAILED = "ascent.run.failed.v1"
RUN_CANCELLED = "ascent.run.cancelled.v1"
RUN_HANDOFF = "ascent.run.handoff.v1"
APPROVAL_REQUIRED = "ascent.approval.required.v1"  # HumanReviewRequired
APPROVAL_DECIDED = "ascent.approval.decided.v1"  # HumanDecisionMade

RUNS_TOPIC = "ascent.runs"
AGENT_EVENTS_TOPIC = "ascent.agent-events"  # an agent's own events (durable.emit_event)
APPROVALS_TOPIC = "ascent.approvals"
DECISIONS_TOPIC = "ascent.decisions"  # where reviewers publish decisions (events in)
EVENT_SOURCE = "/ascent/runs"

TOPICS: dict[str, str] = {
    RUN_QUEUED: RUNS_TOPIC,
    RUN_STARTED: RUNS_TOPIC,
    RUN_COMPLETED: RUNS_TOPIC,
    RUN_FAILED: RUNS_TOPIC,
    RUN_CANCELLED: RUNS_TOPIC,
    RUN_HANDOFF: RUNS_TOPIC,
    APPROVAL_REQUIRED: APPROVALS_TOPIC,
    APPROVAL_DECIDED: APPROVALS_TOPIC,
}

# event-log types that are reported, and the outbox type each becomes
_FROM_LOG = {
    "run_completed": RUN_COMPLETED,
    "run_failed": RUN_FAILED,
    "run_cancelled": RUN_CANCELLED,
    "run_resumed": APPROVAL_DECIDED,
    "approval_required": APPROVAL_REQUIRED,
    "agent_changed": RUN_HANDOFF,
}
REPORTED_LOG_TYPES = frozenset(_FROM_LOG)


class OutboxEntry(BaseModel):
    """One event waiting in (or published from) the outbox."""

    seq: int
    id: str
    type: str
    topic: str
    subject: str | None = None
    tenant: str | None = None
    agent: str | None = None
    time: float
    data: dict[str, Any]


def _row(
    type: str,
    record: RunRecord,
    data: dict[str, Any],
    *,
    now: float,
    topic: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    body = {"run_id": record.id, "tenant": record.tenant, "agent": record.agent, **data}
    return {
        "id": id or uuid.uuid4().hex,
        "type": type,
        "topic": topic or TOPICS[type],
        "subject": record.id,
        "tenant": record.tenant,
        "agent": record.agent,
        "time": now,
        "data": to_json(body, fallback=str).decode(),
    }


def outbox_rows(
    record: RunRecord,
    log: Iterable[tuple[str, Any]] = (),
    *,
    status_change: str | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows that report a change of ``record``: a new status
    (``"queued"`` or ``"started"``) and the reported ``(type, data)`` of the
    event-log entries written with it."""
    now = time.time()
    rows: list[dict[str, Any]] = []
    if status_change == "queued":
        rows.append(_row(RUN_QUEUED, record, {"session_id": record.session_id}, now=now))
    elif status_change == "started":
        rows.append(_row(RUN_STARTED, record, {"session_id": record.session_id}, now=now))
    for kind, raw in log:
        type = _FROM_LOG.get(kind)
        if type is None:
            continue
        data = from_json(raw) if isinstance(raw, str) else dict(raw)
        if type == APPROVAL_REQUIRED:
            for request in data.get("requests") or []:
                rows.append(_row(type, record, _review(request), now=now))
        elif type == APPROVAL_DECIDED:
            decisions = [
                {"call_id": call_id, **decision}
                for call_id, decision in (data.get("decisions") or {}).items()
            ]
            rows.append(_row(type, record, {"decisions": decisions}, now=now))
        elif type == RUN_HANDOFF:
            if data.get("previous") is None:  # the run's first agent: no handoff
                continue
            handoff = {"from_agent": data.get("previous"), "to_agent": data.get("agent")}
            rows.append(_row(type, record, handoff, now=now))
        elif type == RUN_COMPLETED:
            rows.append(_row(type, record, {"output": data.get("output")}, now=now))
        elif type == RUN_FAILED:
            rows.append(_row(type, record, {"error": data.get("error")}, now=now))
        else:
            rows.append(_row(type, record, {}, now=now))
    return rows


def reports(kind: str, data: dict[str, Any] | str) -> bool:
    """Whether the event-log entry ``(kind, data)`` has outbox rows to go with it
    (a run's first ``agent_changed`` is no handoff: its writer reads no record)."""
    if kind not in _FROM_LOG:
        return False
    if kind == "agent_changed":
        found = from_json(data) if isinstance(data, str) else data
        return found.get("previous") is not None
    return True


def _review(request: dict[str, Any]) -> dict[str, Any]:
    """A HumanReviewRequired body: one per tool call waiting, arguments parsed if JSON."""
    arguments: Any = request.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = from_json(arguments)
    return {
        "call_id": request.get("call_id"),
        "tool": request.get("tool_name"),
        "arguments": arguments,
        "requested_by": request.get("agent"),
    }


# what to call when a transaction that wrote outbox rows commits, per database (its
# URL: a write may come through another engine on it, the event loop's own)
_listeners: dict[URL, list[Callable[[], None]]] = {}


def _notify(database: URL) -> Callable[[], None]:
    def notify() -> None:
        for listener in list(_listeners.get(database, ())):
            listener()

    return notify


def write_outbox(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` in the caller's transaction (the one writing the change); once
    it commits, this process's relays on the database hear of it (they publish at
    once rather than at their next look)."""
    if rows:
        # no sequence value read back (the write may be pipelined, see pipeline)
        insert_rows(conn, table, rows)
        if _listeners.get(conn.engine.url):
            after_commit(conn, _notify(conn.engine.url))


class Outbox:
    """The relay's side of the outbox on one database: claim, mark, look."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.table = schema().outbox
        self.engine: Engine = schema.engine(url)

    def on_write(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (in the writing thread) each time a transaction of this
        process commits outbox rows on this database; returns what stops it."""
        database = self.engine.url
        _listeners.setdefault(database, []).append(listener)

        def stop() -> None:
            found = _listeners.get(database, [])
            if listener in found:
                found.remove(listener)
            if not found:
                _listeners.pop(database, None)

        return stop

    def add(self, entry_type: str, data: dict[str, Any], *, topic: str, id: str) -> bool:
        """Add an event of the application's own (not a run's change); False if an
        event with this ``id`` is there already (a retried tool emits once)."""
        from sqlalchemy.exc import IntegrityError

        row = {
            "id": id,
            "type": entry_type,
            "topic": topic,
            "subject": data.get("run_id"),
            "tenant": data.get("tenant"),
            "agent": data.get("agent"),
            "time": time.time(),
            "data": to_json(data, fallback=str).decode(),
        }
        try:
            with write_transaction(self.engine) as conn:
                write_outbox(conn, self.table, [row])
        except IntegrityError:
            return False
        return True

    def claim(
        self, by: str, *, limit: int = 100, lease: float = 30.0, look: bool = True
    ) -> list[OutboxEntry]:
        """Claim up to ``limit`` unpublished events (oldest first) for ``lease``
        seconds: no other relay takes them meanwhile. ``look=False`` skips the
        read that spares an idle relay the write (a busy one knows rows wait)."""
        from sqlalchemy import or_, select

        table = self.table
        now = time.time()
        query = (
            select(table.c.seq)
            .where(
                table.c.published_at.is_(None),
                # a claim ran out, or is this relay's own (it restarted under its name)
                or_(
                    table.c.claimed_until.is_(None),
                    table.c.claimed_until < now,
                    table.c.claimed_by == by,
                ),
            )
            .order_by(table.c.seq)
            .limit(limit)
        )
        if look:
            with self.engine.connect() as conn:  # a look first: an idle relay takes no lock
                if conn.execute(query.limit(1)).first() is None:
                    return []
        with write_transaction(self.engine) as conn:
            claimed = {"claimed_by": by, "claimed_until": now + lease}
            if conn.dialect.update_returning:  # one statement: claim, and read back
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = conn.execute(
                    table.update().where(table.c.seq.in_(query)).values(**claimed).returning(table)
                ).mappings()
                return sorted((_entry(row) for row in rows), key=lambda entry: entry.seq)
            seqs = [row[0] for row in conn.execute(query)]
            if not seqs:
                return []
            conn.execute(table.update().where(table.c.seq.in_(seqs)).values(**claimed))
            rows = conn.execute(
                select(table).where(table.c.seq.in_(seqs)).order_by(table.c.seq)
            ).mappings()
            return [_entry(row) for row in rows]

    def mark_published(self, seqs: Sequence[int], by: str) -> int:
        """Mark claimed events as published; returns how many were still ``by``'s."""
        if not seqs:
            return 0
        table = self.table
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                table.update()
                .where(table.c.seq.in_(list(seqs)), table.c.claimed_by == by)
                .values(published_at=time.time(), claimed_until=None)
            )
            return int(result.rowcount)

    def release(self, seqs: Sequence[int], by: str) -> None:
        """Give back claimed events that could not be published, for the next try."""
        if not seqs:
            return
        table = self.table
        with write_transaction(self.engine) as conn:
            conn.execute(
                table.update()
                .where(table.c.seq.in_(list(seqs)), table.c.claimed_by == by)
                .values(claimed_by=None, claimed_until=None)
            )

    def prune(self, older_than: float) -> int:
        """Delete events published more than ``older_than`` seconds ago; how many."""
        table = self.table
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                table.delete().where(table.c.published_at < time.time() - older_than)
            )
            return int(result.rowcount)

    def entries(
        self, *, subject: str | None = None, unpublished: bool = False, after: int = 0
    ) -> list[OutboxEntry]:
        """The outbox's events after the ``seq`` ``after`` (of one run, or only the
        unpublished), oldest first."""
        from sqlalchemy import select

        table = self.table
        query = select(table).where(table.c.seq > after).order_by(table.c.seq)
        if subject is not None:
            query = query.where(table.c.subject == subject)
        if unpublished:
            query = query.where(table.c.published_at.is_(None))
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def lag(self) -> tuple[int, float | None]:
        """How many events wait to be published, and the age in seconds of the oldest."""
        from sqlalchemy import func, select

        table = self.table
        query = select(func.count(), func.min(table.c.time)).where(table.c.published_at.is_(None))
        with self.engine.connect() as conn:
            count, oldest = conn.execute(query).one()
        return int(count), None if oldest is None else max(0.0, time.time() - float(oldest))


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        seq=row["seq"],
        id=row["id"],
        type=row["type"],
        topic=row["topic"],
        subject=row["subject"],
        tenant=row["tenant"],
        agent=row["agent"],
        time=row["time"],
        data=from_json(row["data"]),
    )
