"""The trace store's tables, and the compiled upserts its writer sends straight to
the database driver (one statement for many rows)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql.dml import Insert

__all__ = [
    "SPANS_TABLE",
    "SPAN_COLUMNS",
    "TRACES_TABLE",
    "TRACE_COLUMNS",
    "Upserts",
    "bind_none_directly",
    "create_tables",
    "schema",
]

TRACES_TABLE = "ascent_traces"
SPANS_TABLE = "ascent_spans"
# Row tuples follow the tables' column order (checked when the upserts are compiled).
TRACE_COLUMNS = ("trace_id", "workflow", "group_id", "started_at", "ended_at", "metadata", "error")
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_id",
    "kind",
    "name",
    "started_at",
    "ended_at",
    "tokens",
    "attributes",
    "error",
)


@functools.cache
def schema() -> tuple[MetaData, Table, Table]:
    from sqlalchemy import Column, Double, Index, Integer, MetaData, String, Table, Text

    metadata = MetaData()
    traces = Table(
        TRACES_TABLE,
        metadata,
        Column("trace_id", String, primary_key=True),
        Column("workflow", Text, nullable=False),
        Column("group_id", Text),
        Column("started_at", Double, nullable=False),
        Column("ended_at", Double),
        Column("metadata", Text, nullable=False),
        Column("error", Text),
        Index(f"ix_{TRACES_TABLE}_started_at", "started_at"),
    )
    spans = Table(
        SPANS_TABLE,
        metadata,
        # (trace_id, span_id): the one index both reads by trace and upserts use
        Column("trace_id", String, primary_key=True),
        Column("span_id", String, primary_key=True),
        Column("parent_id", String),
        Column("kind", String(16), nullable=False),
        Column("name", Text, nullable=False),
        Column("started_at", Double, nullable=False),
        Column("ended_at", Double),
        Column("tokens", Integer),
        Column("attributes", Text, nullable=False),
        Column("error", Text),
    )
    return metadata, traces, spans


@functools.cache
def bind_none_directly() -> None:
    """Let the ``sqlite3`` module bind ``None`` (SQL NULL) without its adaptation lookup.

    Without an adapter for ``NoneType``, each ``None`` parameter makes ``sqlite3``
    look for ``__adapt__`` and ``__conform__``, building and dropping two
    AttributeError exceptions (about 2,400 instructions), and a run's rows hold a
    dozen ``None`` values (no parent, no error, no token count...). With an
    adapter it is a dict lookup and a call; ``None`` still binds as NULL. An
    adapter registered for ``None`` by someone else is left alone.
    """
    import sqlite3

    key = (type(None), sqlite3.PrepareProtocol)
    if key not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _none)


def _none(value: None) -> None:
    return value


def create_tables(engine: Engine) -> None:
    metadata, _, _ = schema()
    try:
        metadata.create_all(engine, checkfirst=True)
    except Exception:
        # Another process may have created them between the check and the CREATE.
        metadata.create_all(engine, checkfirst=True)


class Upserts:
    """Both upserts compiled once for one database, and how to pass rows to its driver."""

    def __init__(self, traces: str, spans: str, named: bool) -> None:
        self.traces = traces
        self.spans = spans
        self.named = named
        self._multi: dict[tuple[bool, int], str] = {}

    @classmethod
    def compile(cls, engine: Engine) -> Upserts:
        upsert_traces, upsert_spans = _upsert_statements(engine.dialect.name)
        compiled_traces = upsert_traces.compile(dialect=engine.dialect)
        compiled_spans = upsert_spans.compile(dialect=engine.dialect)
        named = not compiled_traces.positional
        if not named and (
            tuple(compiled_traces.positiontup or ()) != TRACE_COLUMNS
            or tuple(compiled_spans.positiontup or ()) != SPAN_COLUMNS
        ):
            raise RuntimeError("trace store: unexpected parameter order")  # a bug, not a setup
        return cls(str(compiled_traces), str(compiled_spans), named)

    def write(self, connection: Connection, rows: list[tuple[Any, ...]], *, traces: bool) -> None:
        """Upsert ``rows`` into one table, inside the connection's transaction.

        PostgreSQL (named parameters): one ``executemany``, which psycopg
        pipelines. SQLite: multi-row ``VALUES`` statements of up to
        :data:`_ROWS_A_STATEMENT` rows (sizes in powers of two, so a handful
        of statements get prepared and cached), because the ``sqlite3`` module
        releases and retakes the GIL around every statement step: with one step
        a row, the writer's thread and the run's thread hand the GIL back and
        forth several times a run, which costs them both CPU.
        """
        sql = self.traces if traces else self.spans
        if self.named:
            columns = TRACE_COLUMNS if traces else SPAN_COLUMNS
            connection.exec_driver_sql(sql, [dict(zip(columns, row, strict=True)) for row in rows])
            return
        cursor = connection.connection.cursor()
        try:
            start, total = 0, len(rows)
            while start < total:
                size = min(_ROWS_A_STATEMENT, 1 << ((total - start).bit_length() - 1))
                chunk = rows[start : start + size]
                cursor.execute(self._statement(traces, size), [v for row in chunk for v in row])
                start += size
        finally:
            cursor.close()

    def _statement(self, traces: bool, size: int) -> str:
        statement = self._multi.get((traces, size))
        if statement is None:
            sql = self.traces if traces else self.spans
            width = len(TRACE_COLUMNS if traces else SPAN_COLUMNS)
            row = "(" + ", ".join(["?"] * width) + ")"
            head, found, tail = sql.partition(f" VALUES {row}")
            if not found:
                raise RuntimeError("trace store: unexpected upsert statement")  # a bug
            statement = f"{head} VALUES {', '.join([row] * size)}{tail}"
            self._multi[traces, size] = statement
        return statement


# Rows in one SQLite statement: 64 spans are 640 parameters, under SQLite's
# oldest limit of 999.
_ROWS_A_STATEMENT = 64


def _upsert_statements(dialect: str) -> tuple[Insert, Insert]:
    """INSERT ... ON CONFLICT statements for both tables, in the database's own dialect."""
    from sqlalchemy import func
    from sqlalchemy.dialects import postgresql, sqlite

    _, traces, spans = schema()
    inserts: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    insert = inserts.get(dialect)
    if insert is None:
        raise UserError(f"the trace store supports SQLite and PostgreSQL, not {dialect}")
    trace_insert = insert(traces)
    new = trace_insert.excluded
    upsert_traces = trace_insert.on_conflict_do_update(
        index_elements=[traces.c.trace_id],
        set_={
            "workflow": new["workflow"],
            "group_id": new["group_id"],
            "metadata": new["metadata"],
            # an older "started" copy arriving late must not erase the end
            "ended_at": func.coalesce(new["ended_at"], traces.c.ended_at),
            "error": func.coalesce(new["error"], traces.c.error),
        },
    )
    span_insert = insert(spans)
    upsert_spans = span_insert.on_conflict_do_update(
        index_elements=[spans.c.trace_id, spans.c.span_id],
        set_={
            column.name: span_insert.excluded[column.name]
            for column in spans.columns
            if column.name not in ("trace_id", "span_id")
        },
    )
    return upsert_traces, upsert_spans
