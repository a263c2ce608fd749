"""The durable engine's tables in the project database, and its hot statements.

Declared on first use and created once per database (``LazyTables``): runs,
their event logs, replicas' heartbeats, durable timers, checkpoints, the runs'
leases and the events outbox. On PostgreSQL, triggers
announce each new event and each change of a run's status on :data:`NEWS_CHANNEL`
(``NOTIFY`` in the writing transaction, delivered when it commits), so every
replica's waits and streams hear of it without polling (see ``_listen.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..storage import LazyTables

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

__all__ = [
    "ACTIVE_STATUSES",
    "CHECKPOINTS_TABLE",
    "EVENTS_TABLE",
    "LEASES_TABLE",
    "NEWS_CHANNEL",
    "NEWS_TRIGGERS",
    "OUTBOX_TABLE",
    "REPLICAS_TABLE",
    "RUNS_TABLE",
    "TIMERS_TABLE",
    "Statements",
    "Tables",
    "schema",
]

RUNS_TABLE = "ascent_runs"
EVENTS_TABLE = "ascent_run_events"
REPLICAS_TABLE = "ascent_replicas"
TIMERS_TABLE = "ascent_run_timers"
CHECKPOINTS_TABLE = "ascent_run_checkpoints"
OUTBOX_TABLE = "ascent_outbox"
LEASES_TABLE = "ascent_run_leases"
ACTIVE_STATUSES = ("queued", "running", "awaiting_approval")
# Payloads: "e:<run id>" (new events of the run), "s:<run id>" (its status changed).
NEWS_CHANNEL = "ascent_run_news"


@dataclass(frozen=True, slots=True)
class Tables:
    runs: Table
    events: Table
    replicas: Table
    timers: Table
    checkpoints: Table
    outbox: Table
    leases: Table


class Statements:
    """The hot statements, built once: SQLAlchemy then reuses their compiled form
    without rebuilding (and re-keying) a statement per call, which cost more than
    SQLite's own work. Values go in as parameters; the ``b_`` names keep them apart
    from the column names an UPDATE sets."""

    def __init__(self, tables: Tables, *, returning: bool) -> None:
        from sqlalchemy import bindparam, func, literal_column, select

        self.returning = returning
        runs, events = tables.runs, tables.events
        by_id = runs.c.id == bindparam("b_id")
        self.get_run = select(runs).where(by_id)
        self.get_run_for_share = self.get_run.with_for_update(read=True)
        leases, checkpoints = tables.leases, tables.checkpoints
        self.insert_lease = leases.insert()
        self.delete_lease = leases.delete().where(leases.c.run_id == bindparam("b_run_id"))
        self.insert_checkpoint = checkpoints.insert()
        self.delete_checkpoint = checkpoints.delete().where(
            checkpoints.c.run_id == bindparam("b_run_id")
        )
        self.insert_run = runs.insert()
        self.insert_events = events.insert()
        # the same, save for a run that is over: a late flush of a cancelled run's log
        # (the step in flight still streaming) adds nothing after its end. A log with
        # no run record (a run no service keeps) is written as it comes.
        columns = ("run_id", "seq", "type", "data", "step", "created_at")
        # literal: an expanding IN cannot go into executemany, nor onto the driver's
        # own connection (storage.write_transaction(driver=True))
        active: list[Any] = [literal_column(f"'{status}'") for status in ACTIVE_STATUSES]
        over = select(runs.c.id).where(
            runs.c.id == bindparam("run_id"), runs.c.status.not_in(active)
        )
        values = select(*(bindparam(name, type_=events.c[name].type) for name in columns))
        self.insert_live_events = events.insert().from_select(columns, values.where(~over.exists()))
        self.log_end = select(func.max(events.c.seq)).where(events.c.run_id == bindparam("b_id"))
        self.read_events = (
            select(events.c.seq, events.c.type, events.c.data)
            .where(events.c.run_id == bindparam("b_id"), events.c.seq > bindparam("b_after"))
            .order_by(events.c.seq)
            .limit(bindparam("b_limit"))
        )
        logged = select(events.c.seq).where(
            events.c.run_id == bindparam("b_id"), events.c.type == bindparam("b_type")
        )
        self.logged_at_step = logged.where(events.c.step == bindparam("b_step")).limit(1)
        self.logged_no_step = logged.where(events.c.step.is_(None)).limit(1)
        update = runs.update()
        if returning:  # the record as written comes back with the write: no read after it
            update = update.returning(*runs.c)
        self.update_any = update.where(by_id)
        self.update_active = update.where(by_id, runs.c.status.in_(active))
        self.update_if_status = update.where(by_id, runs.c.status == bindparam("b_status"))


def _declare() -> Tables:
    from sqlalchemy import (
        BigInteger,
        Column,
        Double,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        Text,
    )

    metadata = MetaData()
    runs = Table(
        RUNS_TABLE,
        metadata,
        Column("id", String(255), primary_key=True),
        Column("agent", Text, nullable=False),
        Column("tenant", String(255)),
        Column("session_id", String(255)),
        Column("status", String(32), nullable=False),
        Column("output", Text),
        Column("error", Text),
        Column("pending", Text, nullable=False),
        Column("usage", Text, nullable=False),
        Column("trace_id", String(255)),
        Column("schedule", String(255)),
        Column("created_at", Double, nullable=False),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{RUNS_TABLE}_tenant_created", "tenant", "created_at"),
        Index(f"ix_{RUNS_TABLE}_session_created", "session_id", "created_at"),
    )
    events = Table(
        EVENTS_TABLE,
        metadata,
        Column("run_id", String(255), primary_key=True),
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("type", String(64), nullable=False),
        Column("data", Text, nullable=False),
        Column("step", Integer),
        Column("created_at", Double, nullable=False),
    )
    replicas = Table(
        REPLICAS_TABLE,
        metadata,
        Column("executor_id", String(255), primary_key=True),
        Column("app_version", Text, nullable=False),
        Column("started_at", Double, nullable=False),
        Column("heartbeat_at", Double, nullable=False),
        Column("taken_over_by", String(255)),
        Column("taken_over_at", Double),
    )
    timers = Table(
        TIMERS_TABLE,
        metadata,
        Column("key", String(255), primary_key=True),
        Column("wake_at", Double, nullable=False),
    )
    checkpoints = Table(  # the last checkpoint of each run in ``run`` durability
        CHECKPOINTS_TABLE,
        metadata,
        Column("run_id", String(255), primary_key=True),
        Column("number", Integer, nullable=False),
        Column("data", Text, nullable=False),
        Column("created_at", Double, nullable=False),
    )
    # lifecycle events, written with the change they report (see durable/outbox.py)
    outbox = Table(
        OUTBOX_TABLE,
        metadata,
        Column(
            "seq",
            BigInteger().with_variant(Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("id", String(255), nullable=False, unique=True),
        Column("type", String(255), nullable=False),
        Column("topic", String(255), nullable=False),
        Column("subject", String(255)),
        Column("tenant", String(255)),
        Column("agent", Text),
        Column("time", Double, nullable=False),
        Column("data", Text, nullable=False),
        Column("claimed_by", String(255)),
        Column("claimed_until", Double),
        Column("published_at", Double),
        Index(f"ix_{OUTBOX_TABLE}_unpublished", "published_at", "seq"),
        Index(f"ix_{OUTBOX_TABLE}_subject", "subject"),
    )
    # the runs the engine owns and recovers itself, without a DBOS workflow (_leases.py)
    leases = Table(
        LEASES_TABLE,
        metadata,
        Column("run_id", String(255), primary_key=True),
        Column("executor_id", String(255), nullable=False),
        Column("data", Text, nullable=False),
        Column("created_at", Double, nullable=False),
        Index(f"ix_{LEASES_TABLE}_executor", "executor_id"),
    )
    return Tables(runs, events, replicas, timers, checkpoints, outbox, leases)


def _create(engine: Engine, tables: Tables) -> None:
    from sqlalchemy.exc import DBAPIError

    for attempt in range(3):
        try:
            tables.runs.metadata.create_all(engine, checkfirst=True)
            break
        except DBAPIError:
            # another replica created them at the same moment: look again
            if attempt == 2:
                raise
    if engine.dialect.name == "postgresql":
        _create_news_triggers(engine)


# A trigger, not a NOTIFY statement beside each write: no extra round trip, and no
# writer (today's or a future one) can forget it. NOTIFY folds equal payloads of one
# transaction into one, so a batch of events is one notification.
_NEWS_DDL = f"""
CREATE OR REPLACE FUNCTION {EVENTS_TABLE}_news() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NEWS_CHANNEL}', 'e:' || NEW.run_id);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION {RUNS_TABLE}_news() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NEWS_CHANNEL}', 's:' || NEW.id);
    RETURN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = '{EVENTS_TABLE}_news'
                   AND tgrelid = '{EVENTS_TABLE}'::regclass) THEN
        CREATE TRIGGER {EVENTS_TABLE}_news AFTER INSERT ON {EVENTS_TABLE}
            FOR EACH ROW EXECUTE FUNCTION {EVENTS_TABLE}_news();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = '{RUNS_TABLE}_news'
                   AND tgrelid = '{RUNS_TABLE}'::regclass) THEN
        CREATE TRIGGER {RUNS_TABLE}_news AFTER UPDATE OF status ON {RUNS_TABLE}
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
            EXECUTE FUNCTION {RUNS_TABLE}_news();
    END IF;
END $$;
"""


NEWS_TRIGGERS = (f"{EVENTS_TABLE}_news", f"{RUNS_TABLE}_news")


def _create_news_triggers(engine: Engine) -> None:
    """Install the triggers that announce runs' news (idempotent; replicas that start
    together take turns, as two ``CREATE OR REPLACE FUNCTION`` at once can fail).

    A role that may not create them (the tables belong to another) gets a warning,
    not a failure: without the triggers, replicas poll (see ``_listen.py``)."""
    from sqlalchemy.exc import DBAPIError

    from ..storage import write_transaction

    try:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('ascent-run-news-ddl'))")
            conn.exec_driver_sql(_NEWS_DDL)
    except DBAPIError as exc:
        logging.getLogger("ascent.durable").warning(
            "cannot install the triggers that announce runs' news (%s): replicas poll instead",
            str(getattr(exc, "orig", None) or exc).strip().splitlines()[0],
        )


schema = LazyTables(_declare, create=_create)
