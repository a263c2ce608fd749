"""The durable runs' own tables in the project database (run records, event logs, replicas).

DBOS keeps the workflow checkpoints in its own tables (schema ``dbos`` on
PostgreSQL, beside these in the same SQLite file); these hold what clients ask
for: a run's status and output, its event log for streaming, and each replica's
heartbeat for takeover. All functions here are synchronous (SQLAlchemy Core);
async code calls them through :meth:`RunStore.call`. Times are epoch seconds.

::

    ascent_runs(id PK, agent, tenant, session_id, status, output, error,
                pending, usage, trace_id, schedule, created_at, updated_at)
    ascent_run_events(run_id, seq, type, data, step, created_at)  PK (run_id, seq)
    ascent_replicas(executor_id PK, app_version, started_at, heartbeat_at,
                    taken_over_by, taken_over_at)
    ascent_run_timers(key PK, wake_at)       durable sleeps inside tools
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import from_json, to_json
from sqlalchemy.exc import IntegrityError

from ..items import RunUsage, Usage
from ..storage import LoopEngine, insert_rows, pipeline, write_transaction
from ._replica_rows import ReplicaRows
from ._schema import (
    ACTIVE_STATUSES,
    EVENTS_TABLE,
    REPLICAS_TABLE,
    RUNS_TABLE,
    TIMERS_TABLE,
    Statements,
    schema,
)
from .outbox import outbox_rows, reports, write_outbox
from .records import TERMINAL_STATUSES, RunEvent, RunRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "EVENTS_TABLE",
    "REPLICAS_TABLE",
    "RUNS_TABLE",
    "TIMERS_TABLE",
    "PendingEvent",
    "RunKey",
    "RunPage",
    "RunStore",
    "UsageSum",
]


T = TypeVar("T")
_USAGE_BATCH = 500
_USAGE_COUNTERS = tuple(name for name in Usage.model_fields)
_ATTEMPTS = tuple(range(10))

# Where a page of runs starts: the (created_at, id) of the last run of the page before.
RunKey = tuple[float, str]
# A page of runs, and the key of the next page (None after the last)
RunPage = tuple[list[RunRecord], RunKey | None]
# The summed usage of some runs, and how many runs
UsageSum = tuple[RunUsage, int]

# (type, data, step) of one event waiting to be appended; data may be its JSON already
PendingEvent = tuple[str, "dict[str, Any] | str", "int | None"]


def _dumps(value: Any) -> str:
    return to_json(value, fallback=str).decode()


def _event_rows(
    run_id: str, events: Sequence[PendingEvent], after: int, now: float
) -> list[dict[str, Any]]:
    """The rows of ``events`` appended to a log that ends at ``after``."""
    return [
        {
            "run_id": run_id,
            "seq": after + offset,
            "type": kind,
            "data": data if isinstance(data, str) else _dumps(data),
            "step": step,
            "created_at": now,
        }
        for offset, (kind, data, step) in enumerate(events, start=1)
    ]


def _timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class RunStore:
    """Reads and writes of the durable tables on one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tables = schema()
        engine = schema.engine(url)
        self.on_loop = LoopEngine.of(engine)
        """Where :meth:`call` runs the store's code: see ``storage.LoopEngine``."""
        self.sql = Statements(self.tables, returning=engine.dialect.update_returning)
        """The hot statements, built once (their writers elsewhere use them too)."""
        self.replicas = ReplicaRows(engine, self.tables)

    @property
    def engine(self) -> Engine:
        """The engine of this store's code: the loop's connections inside :meth:`call`."""
        return self.on_loop.current()

    async def call(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` (this store's methods, or code that uses them)
        from the event loop: on PostgreSQL on the loop's own connections, without a
        worker thread; elsewhere in a worker thread."""
        return await self.on_loop.call(func, *args, **kwargs)

    # --------------------------------------------------------------------- runs

    def insert_run(
        self,
        record: RunRecord,
        *,
        events: Sequence[PendingEvent] = (),
        also: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Add ``record`` (and its first ``events``) unless a run with its id exists;
        True if added. ``also`` makes a write of its own in that transaction (a
        lease), reading nothing back.

        A run on a session is stamped (its ``created_at``, set on ``record`` too)
        inside the write, which holds the session's lock: a session's runs are
        written in the order of their stamps, so a run that looks for the runs
        before it on its session (to take its turn after them) misses none.
        """
        try:
            with write_transaction(self.engine, pipelined=True, driver=True) as conn:
                if record.session_id is not None:
                    if conn.dialect.name == "postgresql":  # SQLite's write lock is enough
                        conn.exec_driver_sql(
                            "SELECT pg_advisory_xact_lock(hashtext(%(key)s))",
                            {"key": f"ascent-session:{record.session_id}"},
                        )
                    record.created_at = record.updated_at = datetime.now(UTC)
                conn.execute(self.sql.insert_run, self._row(record))
                change = "queued" if record.status == "queued" else "started"
                write_outbox(conn, self.tables.outbox, outbox_rows(record, status_change=change))
                if events:  # a new run's log is empty
                    self._append(conn, record.id, events, after=0, record=record)
                if also is not None:
                    also(conn)
        except IntegrityError:  # the id is taken (its transaction was rolled back)
            return False
        return True

    def insert_queued_runs(
        self,
        records: Sequence[RunRecord],
        *,
        first_events: Callable[[RunRecord], Sequence[PendingEvent]],
        also: Callable[[Connection, list[RunRecord]], None] | None = None,
    ) -> list[RunRecord] | None:
        """Add those of ``records`` (new queued runs on no session) whose id is free,
        each with its ``first_events``, in one transaction (``also`` writes in it
        too, given the runs added); returns them. None, and nothing written, if
        an id was taken meanwhile: the caller then adds them one by one."""
        from sqlalchemy import select

        runs = self.tables.runs
        try:
            with write_transaction(self.engine) as conn:
                ids = [record.id for record in records]
                taken = set(conn.execute(select(runs.c.id).where(runs.c.id.in_(ids))).scalars())
                added = [record for record in records if record.id not in taken]
                if not added:
                    return added
                # one statement per table for the whole burst (on PostgreSQL)
                insert_rows(conn, runs, [self._row(record) for record in added])
                outbox = [
                    row for record in added for row in outbox_rows(record, status_change="queued")
                ]
                write_outbox(conn, self.tables.outbox, outbox)
                now = time.time()
                rows = [row for r in added for row in _event_rows(r.id, first_events(r), 0, now)]
                insert_rows(conn, self.tables.events, rows)
                if also is not None:
                    also(conn, added)
        except IntegrityError:
            return None
        return added

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            return self._read_run(conn, run_id)

    def _read_run(self, conn: Connection, run_id: str) -> RunRecord | None:
        row = conn.execute(self.sql.get_run, {"b_id": run_id}).mappings().first()
        return None if row is None else self._record(row)

    def run_before_on_session(self, run_id: str, session_id: str) -> str | None:
        """An unfinished run on ``session_id`` started before ``run_id`` (the oldest),
        or None: the run whose turn on the session comes first."""
        from sqlalchemy import and_, or_, select

        runs = self.tables.runs
        with self.engine.connect() as conn:
            mine = conn.execute(
                select(runs.c.created_at).where(runs.c.id == run_id)
            ).scalar_one_or_none()
            if mine is None:
                return None
            earlier = or_(
                runs.c.created_at < mine, and_(runs.c.created_at == mine, runs.c.id < run_id)
            )
            query = (
                select(runs.c.id)
                .where(
                    runs.c.session_id == session_id,
                    runs.c.status.not_in(sorted(TERMINAL_STATUSES)),
                    runs.c.id != run_id,
                    earlier,
                )
                .order_by(runs.c.created_at, runs.c.id)
                .limit(1)
            )
            found: str | None = conn.execute(query).scalar_one_or_none()
            return found

    def list_runs(
        self, *, tenant: str | None, schedule: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The tenant's latest runs (of one schedule, if given), newest first."""
        from sqlalchemy import select

        runs = self.tables.runs
        query = select(runs).where(
            runs.c.tenant.is_(None) if tenant is None else runs.c.tenant == tenant
        )
        if schedule is not None:
            query = query.where(runs.c.schedule == schedule)
        query = query.order_by(runs.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [self._record(row) for row in conn.execute(query).mappings()]

    def page_runs(
        self,
        tenant: str | None,
        *,
        status: str | None = None,
        agent: str | None = None,
        traced: bool = False,
        before: RunKey | None = None,
        limit: int = 50,
    ) -> RunPage:
        """A page of the tenant's runs, newest first (``created_at``, then ``id``), and
        the key to pass as ``before`` for the next page (None after the last).

        Keyset paging on the ``(tenant, created_at)`` index: a page costs the same
        however deep it is. ``traced`` keeps the runs that have a trace id.
        """
        from sqlalchemy import or_, select

        runs = self.tables.runs
        query = select(runs).where(
            runs.c.tenant.is_(None) if tenant is None else runs.c.tenant == tenant
        )
        if status is not None:
            query = query.where(runs.c.status == status)
        if agent is not None:
            query = query.where(runs.c.agent == agent)
        if traced:
            query = query.where(runs.c.trace_id.is_not(None))
        if before is not None:
            at, run_id = before
            # the range on created_at alone lets the index bound the scan
            query = query.where(
                runs.c.created_at <= at, or_(runs.c.created_at < at, runs.c.id < run_id)
            )
        query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        page = rows[:limit]
        after = page[-1] if len(rows) > limit and page else None
        key = None if after is None else (float(after["created_at"]), str(after["id"]))
        return [self._record(row) for row in page], key

    def sum_usage(self, tenant: str | None, since: float | None = None) -> UsageSum:
        """The usage of the tenant's runs (created at or after ``since``), summed, and
        how many runs that is.

        Usage is JSON text, so the sum is made here: the ``usage`` column alone is
        streamed over the ``(tenant, created_at)`` index, a batch of rows at a time,
        never all runs in memory at once.
        """
        from sqlalchemy import select

        runs = self.tables.runs
        query = select(runs.c.usage).where(
            runs.c.tenant.is_(None) if tenant is None else runs.c.tenant == tenant
        )
        if since is not None:
            query = query.where(runs.c.created_at >= since)
        total: dict[str, int] = {}
        by_agent: dict[str, dict[str, int]] = {}
        by_model: dict[str, dict[str, int]] = {}
        count = 0
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=_USAGE_BATCH).execute(query)
            for (text,) in result:
                # plain dicts: validating a model per run costs more than the reading
                usage = from_json(text)
                _add_counts(total, usage)
                for name, part in (usage.get("by_agent") or {}).items():
                    _add_counts(by_agent.setdefault(name, {}), part)
                for name, part in (usage.get("by_model") or {}).items():
                    _add_counts(by_model.setdefault(name, {}), part)
                count += 1
        summed = RunUsage.model_validate({**total, "by_agent": by_agent, "by_model": by_model})
        return summed, count

    def update_run(
        self,
        run_id: str,
        *,
        events: Sequence[PendingEvent] = (),
        only_active: bool = True,
        once: bool = False,
        only_status: str | None = None,
        after: int | None = None,
        also: Callable[[Connection], None] | None = None,
        **values: Any,
    ) -> RunRecord | None:
        """Set ``values`` on an active run and append ``events``, in one transaction;
        returns the run's record as written. ``also`` makes a write of its own in
        that transaction (a checkpoint), if the run is active.

        Returns None (and writes nothing) when the run is already over (or,
        with ``only_status``, not in that status), so a late writer never
        overwrites a cancellation. With ``once``, nothing is written if the log
        has the first event's type at its step (or with no step) already: a
        step that runs again after a crash wrote all of it the first time, and
        what came since (a decision on its pause) must stand. ``after`` is the
        log's end if the caller knows it (see :meth:`append_events`).
        """
        sql = self.sql
        params = self._encode(values)
        params["updated_at"] = time.time()
        params["b_id"] = run_id
        if only_status is not None:
            statement, params["b_status"] = sql.update_if_status, only_status
        else:
            statement = sql.update_active if only_active else sql.update_any
        for attempt in _ATTEMPTS:
            try:
                with write_transaction(self.engine, driver=True) as conn:
                    if events and once and self._logged(conn, run_id, events[0]):
                        record = self._read_run(conn, run_id)
                        return None if record is None or record.done else record
                    result = conn.execute(statement, params)
                    if sql.returning:
                        row = result.mappings().first()
                    elif result.rowcount:  # a database without UPDATE ... RETURNING
                        row = conn.execute(sql.get_run, {"b_id": run_id}).mappings().first()
                    else:
                        row = None
                    if row is None:
                        return None
                    record = self._record(row)
                    if after is not None or not events:
                        pipeline(conn)  # the rest reads nothing back: one round trip
                    if also is not None:
                        also(conn)
                    if change := _status_change(values.get("status"), only_status):
                        rows = outbox_rows(record, status_change=change)
                        write_outbox(conn, self.tables.outbox, rows)
                    if events:
                        self._append(conn, run_id, events, after=after, record=record)
                return record
            except IntegrityError:  # another writer took the same seq: again
                if attempt == _ATTEMPTS[-1]:
                    raise
                after = None
        return None  # pragma: no cover

    def _logged(self, conn: Connection, run_id: str, event: PendingEvent) -> bool:
        """Whether the log has ``event``'s type at its step (or with no step)."""
        kind, _data, step = event
        query = {"b_id": run_id, "b_type": kind}
        if step is None:
            found = conn.execute(self.sql.logged_no_step, query)
        else:
            found = conn.execute(self.sql.logged_at_step, {**query, "b_step": step})
        return found.first() is not None

    # ------------------------------------------------------------------- events

    def append_events(
        self, run_id: str, events: Sequence[PendingEvent], *, after: int | None = None
    ) -> int | None:
        """Append ``events``; returns the last ``seq`` written (None if none were).

        ``after`` is the last ``seq`` the caller knows of: its guess saves reading
        the log's end, and a wrong guess (another writer got there first) costs
        a retry.
        """
        if not events:
            return after
        # knowing where the log ends and with no record to read for the outbox, the
        # write reads nothing back: BEGIN, INSERT and COMMIT go in one round trip
        reads = any(reports(kind, data) for kind, data, _step in events)
        for attempt in _ATTEMPTS:
            try:
                pipelined = after is not None and not reads
                with write_transaction(self.engine, pipelined=pipelined, driver=True) as conn:
                    return self._append(conn, run_id, events, after=after, live=True)
            except IntegrityError:
                if attempt == _ATTEMPTS[-1]:
                    raise
                after = None  # someone else appended: read where the log ends
        return None  # pragma: no cover

    def append_batches(
        self, batches: Sequence[tuple[str, Sequence[PendingEvent], int | None]]
    ) -> list[int | Exception | None]:
        """Append the events of several runs, ``(run_id, events, after)`` each: those
        whose ``after`` is known and whose events need no outbox row in one
        transaction (one round trip on PostgreSQL), the others (and all of them if a
        guess of a log's end was wrong) each on its own. Returns each log's last
        ``seq``, or the error that kept its events out."""
        results: list[int | Exception | None] = [None] * len(batches)
        alone = list(range(len(batches)))
        together = [
            index
            for index, (_run, events, after) in enumerate(batches)
            if after is not None and not any(reports(kind, data) for kind, data, _ in events)
        ]
        if len(together) > 1:
            now = time.time()
            rows: list[dict[str, Any]] = []
            for index in together:
                run_id, events, after = batches[index]
                assert after is not None
                rows.extend(_event_rows(run_id, events, after, now))
                results[index] = after + len(events)
            try:
                with write_transaction(self.engine, pipelined=True, driver=True) as conn:
                    conn.execute(self.sql.insert_live_events, rows)
                alone = [index for index in alone if index not in set(together)]
            except IntegrityError:  # a writer of its own got there first: one by one
                pass
        for index in alone:
            run_id, events, after = batches[index]
            try:
                results[index] = self.append_events(run_id, events, after=after)
            except Exception as exc:
                results[index] = exc
        return results

    def _append(
        self,
        conn: Connection,
        run_id: str,
        events: Sequence[PendingEvent],
        *,
        after: int | None = None,
        record: RunRecord | None = None,
        live: bool = False,
    ) -> int:
        """Write ``events`` after ``after`` (None: the log's end, read here), and the
        outbox rows that report them, in the caller's transaction. ``live``: not if
        the run is over (a write that is not the change that ends it)."""
        if after is None:
            if conn.dialect.name == "postgresql":
                # writers that read the log's end take turns (SQLite's write lock does this)
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext(%(run)s))", {"run": f"ascent:{run_id}"}
                )
            after = conn.execute(self.sql.log_end, {"b_id": run_id}).scalar() or 0
        rows = _event_rows(run_id, events, after, time.time())
        reported = [(kind, data) for kind, data, _step in events if reports(kind, data)]
        if reported and live and record is None:
            # the record its outbox rows need, held until the commit: a run over (or
            # ending meanwhile) gets neither the events nor their reports
            row = conn.execute(self.sql.get_run_for_share, {"b_id": run_id}).mappings().first()
            record = None if row is None else self._record(row)
            if record is not None and record.status not in ACTIVE_STATUSES:
                return after
        conn.execute(self.sql.insert_live_events if live else self.sql.insert_events, rows)
        if reported and (record := record or self._read_run(conn, run_id)) is not None:
            write_outbox(conn, self.tables.outbox, outbox_rows(record, reported))
        return after + len(rows)

    def read_events(self, run_id: str, *, after: int, limit: int = 1000) -> list[RunEvent]:
        with self.engine.connect() as conn:
            return self._read_events(conn, run_id, after=after, limit=limit)

    def read_run_and_events(
        self, run_id: str, *, after: int, limit: int = 1000
    ) -> tuple[RunRecord | None, list[RunEvent]]:
        """The run's record, then its events after ``after``: what a stream needs
        each time it looks, in one trip to the database."""
        with self.engine.connect() as conn:
            record = self._read_run(conn, run_id)
            return record, self._read_events(conn, run_id, after=after, limit=limit)

    def _read_events(
        self, conn: Connection, run_id: str, *, after: int, limit: int
    ) -> list[RunEvent]:
        params = {"b_id": run_id, "b_after": after, "b_limit": limit}
        rows = conn.execute(self.sql.read_events, params).all()
        return [
            RunEvent(run_id=run_id, seq=seq, type=kind, data=from_json(data))
            for seq, kind, data in rows
        ]

    def logged_steps(
        self, run_id: str, *, uncounted: Collection[str] = ()
    ) -> tuple[int | None, dict[int, int]]:
        """What a recovered run needs of its log: the step its latest event was
        written in (None: no step), and how many events each step has in the log,
        those of the ``uncounted`` types aside."""
        from sqlalchemy import func, select

        table = self.tables.events
        last = (
            select(table.c.step).where(table.c.run_id == run_id).order_by(table.c.seq.desc())
        ).limit(1)
        counts = (
            select(table.c.step, func.count())
            .where(table.c.run_id == run_id, table.c.step.is_not(None))
            .where(table.c.type.not_in(list(uncounted)))
            .group_by(table.c.step)
        )
        with self.engine.connect() as conn:
            step = conn.execute(last).scalar()
            return step, {number: count for number, count in conn.execute(counts).all()}

    def timer(self, key: str, seconds: float) -> float:
        """When the sleep ``key`` ends: set now on its first call, read back after."""
        from sqlalchemy import select

        table = self.tables.timers
        with write_transaction(self.engine) as conn:
            found = conn.execute(select(table.c.wake_at).where(table.c.key == key)).scalar()
            if found is not None:
                return float(found)
            wake_at = time.time() + seconds
            conn.execute(table.insert().values(key=key, wake_at=wake_at))
            return wake_at

    # ---------------------------------------------------------------- internals

    def _row(self, record: RunRecord) -> dict[str, Any]:
        values = self._encode(
            {
                "output": record.output,
                "pending": record.pending_approvals,
                "usage": record.usage,
            }
        )
        values.update(
            id=record.id,
            agent=record.agent,
            tenant=record.tenant,
            session_id=record.session_id,
            status=record.status,
            error=record.error,
            trace_id=record.trace_id,
            schedule=record.schedule,
            created_at=record.created_at.timestamp(),
            updated_at=record.updated_at.timestamp(),
        )
        return values

    @staticmethod
    def _encode(values: dict[str, Any]) -> dict[str, Any]:
        encoded = dict(values)
        for name in ("output", "pending", "usage"):
            if name in encoded:
                value = encoded[name]
                encoded[name] = None if value is None and name == "output" else _dumps(value)
        return encoded

    @staticmethod
    def _record(row: Any) -> RunRecord:
        return RunRecord(
            id=row["id"],
            agent=row["agent"],
            tenant=row["tenant"],
            session_id=row["session_id"],
            status=row["status"],
            output=None if row["output"] is None else from_json(row["output"]),
            error=row["error"],
            pending_approvals=from_json(row["pending"]),
            usage=from_json(row["usage"]),
            trace_id=row["trace_id"],
            schedule=row["schedule"],
            created_at=_timestamp(row["created_at"]),
            updated_at=_timestamp(row["updated_at"]),
        )


def _add_counts(into: dict[str, int], usage: dict[str, Any]) -> None:
    for name in _USAGE_COUNTERS:
        value = usage.get(name)
        if isinstance(value, int):
            into[name] = into.get(name, 0) + value


def _status_change(status: str | None, only_status: str | None) -> str | None:
    """What an update reports: a run leaving the queue starts, one sent back waits."""
    if status == "running" and only_status == "queued":
        return "started"
    if status == "queued":
        return "queued"
    return None


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES
