"""The local trace store: traces and spans in the project database, on by default.

Writes come from the batch processor's thread, a batch at a time (one
transaction; attributes arrive as JSON text already), so a run never waits on
the database.
SQLAlchemy is imported on first use, not at ``import ascent``. ``ascent traces``
reads the same tables back.

Tables: ``ascent_traces`` (one row per trace, upserted: a trace arrives when it
starts and again when it ends) and ``ascent_spans`` (one row per finished span).
Metadata and attributes are JSON text, so both SQLite and PostgreSQL hold them
the same way; a model span's token count gets a column of its own so listing
traces never parses its (possibly large) input and output items.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic_core import to_json

from ..errors import UserError
from ..storage import database_url, get_engine, sqlite_path
from ._encoding import Encoded
from ._tables import (
    SPANS_TABLE,
    TRACES_TABLE,
    Upserts,
    bind_none_directly,
    create_tables,
    schema,
)
from .spans import Span, SpanRecord, TraceExporter, TraceRecord

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = ["SPANS_TABLE", "TRACES_TABLE", "SQLTraceStore", "TraceSummary", "default_exporter"]

_ID_PREFIX = "trace_"
_AMBIGUOUS_SHOWN = 5


def _encode_json(value: Any) -> str:
    """Compact JSON, non-ASCII kept, by pydantic-core (several times faster than json)."""
    return to_json(value, fallback=str).decode()


class TraceSummary(BaseModel):
    """One line of ``ascent traces``: what a trace did, at a glance."""

    trace_id: str
    workflow: str
    started_at: float
    ended_at: float | None = None
    duration: float | None = None
    agents: list[str] = Field(default_factory=list)
    turns: int = 0
    tokens: int = 0
    error: str | None = None
    run_id: str | None = None  # the durable run it traces, if any


def default_exporter() -> TraceExporter:
    """The exporter tracing uses unless told otherwise: the project database."""
    return SQLTraceStore()


class SQLTraceStore:
    """Traces and spans in a SQL database (SQLite or PostgreSQL); also the reader for the CLI.

    ``url`` defaults to the project database (``ASCENT_DATABASE_URL`` or
    ``.ascent/ascent.db``). Tables are created on the first write.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._upserts: Upserts | None = None
        self._ready = False

    # ------------------------------------------------------------------ writes

    def export(self, records: Sequence[TraceRecord | SpanRecord]) -> None:
        """Write one batch in one transaction; a trace seen again replaces its earlier row."""
        self._write(
            (True, _span_row(record))
            if isinstance(record, SpanRecord)
            else (False, _trace_row(record))
            for record in records
        )

    def export_encoded(self, items: Sequence[Encoded]) -> None:
        """:meth:`export` for the batch processor: attributes are JSON text already."""
        self._write(_encoded_rows(items))

    def _write(self, rows: Iterable[tuple[bool, tuple[Any, ...]]]) -> None:
        """Upsert ``(is_span, row)`` pairs, a trace started and ended in one batch once."""
        traces: dict[str, tuple[Any, ...]] = {}
        spans: list[tuple[Any, ...]] = []  # a span twice in a batch: the upsert keeps the last
        for is_span, row in rows:
            if is_span:
                spans.append(row)
            else:
                earlier = traces.get(row[0])
                if earlier is not None:  # started and ended within one batch
                    row = _merge_trace_rows(earlier, row)
                traces[row[0]] = row
        if not traces and not spans:
            return
        engine = self._writable()
        upserts = self._statements(engine)
        # Precompiled SQL straight to the driver (see Upserts.write): no per-row work
        # in SQLAlchemy, which matters because this runs for every span of every run.
        with engine.begin() as connection:
            if traces:
                upserts.write(connection, list(traces.values()), traces=True)
            if spans:
                upserts.write(connection, spans, traces=False)

    def _writable(self) -> Engine:
        engine = self._engine_()
        if not self._ready:
            with self._lock:
                if not self._ready:
                    create_tables(engine)
                    if engine.dialect.name == "sqlite":
                        bind_none_directly()
                    self._ready = True
        return engine

    def _engine_(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine(self.url)
        return self._engine

    def _statements(self, engine: Engine) -> Upserts:
        if self._upserts is None:
            self._upserts = Upserts.compile(engine)
        return self._upserts

    # ------------------------------------------------------------------- reads

    def list_traces(
        self, limit: int = 20, *, before: tuple[float, str] | None = None
    ) -> list[TraceSummary]:
        """The most recent traces first (``started_at``, then the id), each summed up
        from its spans; with ``before``, those after that ``(started_at, trace_id)``
        in that order (keyset paging: pass the last summary's)."""
        from sqlalchemy import or_, select

        connection_context = self._readable()
        if connection_context is None:
            return []
        _, traces, _spans = schema()
        query = select(traces)
        if before is not None:
            at, last = before
            query = query.where(
                traces.c.started_at <= at, or_(traces.c.started_at < at, traces.c.trace_id < last)
            )
        query = query.order_by(traces.c.started_at.desc(), traces.c.trace_id.desc())
        with connection_context as connection:
            rows = connection.execute(query.limit(max(limit, 0))).all()
            return _summaries(connection, rows)

    def summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """The summaries of the traces with these ids (those that exist), in that order."""
        from sqlalchemy import select

        wanted = list(dict.fromkeys(trace_ids))
        connection_context = self._readable()
        if connection_context is None or not wanted:
            return []
        _, traces, _spans = schema()
        with connection_context as connection:
            rows = connection.execute(select(traces).where(traces.c.trace_id.in_(wanted))).all()
            found = {summary.trace_id: summary for summary in _summaries(connection, rows)}
        return [found[trace_id] for trace_id in wanted if trace_id in found]

    def get_trace(self, trace_id: str) -> tuple[TraceRecord, list[SpanRecord]] | None:
        """A trace and its spans (by start time), by id or a unique prefix of it.

        The ``trace_`` every id starts with may be left out. ``None`` when nothing
        matches; :class:`~ascent.errors.UserError` when a prefix matches several.
        """
        from sqlalchemy import select

        wanted = trace_id.strip()
        if not wanted:
            return None
        connection_context = self._readable()
        if connection_context is None:
            return None
        _, traces, spans = schema()
        with connection_context as connection:
            row = connection.execute(select(traces).where(traces.c.trace_id == wanted)).first()
            if row is None:
                found = _match_prefix(connection, traces, wanted)
                if found is None:
                    return None
                row = connection.execute(select(traces).where(traces.c.trace_id == found)).one()
            span_rows = connection.execute(
                select(spans)
                .where(spans.c.trace_id == row.trace_id)
                .order_by(spans.c.started_at, spans.c.span_id)
            ).all()
        return _trace_record(row), [_span_record(span) for span in span_rows]

    def _readable(self) -> Connection | None:
        """A connection, or ``None`` when there is nothing to read (no file, no tables).

        Reading never creates the database: ``ascent traces`` in a fresh folder
        should not leave a ``.ascent/`` behind.
        """
        from sqlalchemy import inspect

        if not self._ready:
            path = sqlite_path(self.url)
            if path is not None and not path.exists():
                return None
        connection = self._engine_().connect()
        if not self._ready and not inspect(connection).has_table(TRACES_TABLE):
            connection.close()
            return None
        return connection


# ---------------------------------------------------------------- rows and records


def _trace_row(record: TraceRecord) -> tuple[Any, ...]:
    """A trace as a row, in :data:`TRACE_COLUMNS` order."""
    return (
        record.trace_id,
        record.workflow,
        record.group_id,
        record.started_at,
        record.ended_at,
        _encode_json(record.metadata) if record.metadata else "{}",
        record.error,
    )


def _encoded_rows(items: Sequence[Encoded]) -> Iterator[tuple[bool, tuple[Any, ...]]]:
    """``(is_span, row)`` of encoded traces and spans, in their tables' column order."""
    for item, data, error in items:
        if isinstance(item, Span):
            kind = item.kind
            yield (
                True,
                (
                    item.trace_id,
                    item.span_id,
                    item.parent_id,
                    kind,
                    item.name,
                    item.started_at,
                    item.ended_at,
                    _tokens(item.attributes) if kind == "model" else None,
                    data,
                    error,
                ),
            )
        else:
            yield (
                False,
                (
                    item.trace_id,
                    item.workflow,
                    item.group_id,
                    item.started_at,
                    item.ended_at,
                    data,
                    error,
                ),
            )


def _merge_trace_rows(earlier: tuple[Any, ...], later: tuple[Any, ...]) -> tuple[Any, ...]:
    ended_at = later[4] if later[4] is not None else earlier[4]
    error = later[6] if later[6] is not None else earlier[6]
    return (*later[:4], ended_at, later[5], error)


def _span_row(record: SpanRecord) -> tuple[Any, ...]:
    """A span as a row, in :data:`SPAN_COLUMNS` order."""
    attributes = record.attributes
    return (
        record.trace_id,
        record.span_id,
        record.parent_id,
        record.kind,
        record.name,
        record.started_at,
        record.ended_at,
        _tokens(attributes) if record.kind == "model" else None,
        _encode_json(attributes) if attributes else "{}",
        record.error,
    )


def _tokens(attributes: dict[str, Any]) -> int | None:
    """Input plus output tokens of a model span's ``usage``, if it has any."""
    usage = attributes.get("usage")
    if usage is None:
        return None
    if not isinstance(usage, dict):
        usage = getattr(usage, "__dict__", {})
    counts = [usage.get("input_tokens"), usage.get("output_tokens")]
    numbers = [value for value in counts if isinstance(value, int)]
    if not numbers:
        total = usage.get("total_tokens")
        return total if isinstance(total, int) else None
    return sum(numbers)


def _trace_record(row: Any) -> TraceRecord:
    return TraceRecord(
        trace_id=row.trace_id,
        workflow=row.workflow,
        group_id=row.group_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        metadata=json.loads(row.metadata or "{}"),
        error=row.error,
    )


def _span_record(row: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_id=row.parent_id,
        kind=row.kind,
        name=row.name,
        started_at=row.started_at,
        ended_at=row.ended_at,
        attributes=json.loads(row.attributes or "{}"),
        error=row.error,
    )


def _summaries(connection: Connection, rows: Sequence[Any]) -> list[TraceSummary]:
    """Summaries of these trace rows, from the spans that say something about them."""
    from sqlalchemy import or_, select

    if not rows:
        return []
    _, _traces, spans = schema()
    ids = [row.trace_id for row in rows]
    span_rows = connection.execute(
        select(spans.c.trace_id, spans.c.kind, spans.c.name, spans.c.tokens, spans.c.error)
        .where(spans.c.trace_id.in_(ids))
        .where(or_(spans.c.kind.in_(("agent", "model")), spans.c.error.is_not(None)))
        .order_by(spans.c.started_at, spans.c.span_id)
    ).all()
    by_trace: dict[str, list[Any]] = {trace_id: [] for trace_id in ids}
    for span in span_rows:
        by_trace[span.trace_id].append(span)
    return [_summary(row, by_trace[row.trace_id]) for row in rows]


def _run_id(metadata: str | None) -> str | None:
    """The durable run a trace belongs to, from its metadata (JSON text)."""
    if not metadata or '"run_id"' not in metadata:
        return None
    try:
        value = json.loads(metadata).get("run_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _summary(row: Any, spans: list[Any]) -> TraceSummary:
    agents: list[str] = []
    turns = tokens = 0
    first_error: str | None = None
    for span in spans:
        if span.kind == "agent" and span.name not in agents:
            agents.append(span.name)
        elif span.kind == "model":
            turns += 1
            tokens += span.tokens or 0
        if first_error is None and span.error:
            first_error = span.error
    ended = row.ended_at
    return TraceSummary(
        trace_id=row.trace_id,
        workflow=row.workflow,
        started_at=row.started_at,
        ended_at=ended,
        duration=None if ended is None else max(ended - row.started_at, 0.0),
        agents=agents,
        turns=turns,
        tokens=tokens,
        error=row.error or first_error,
        run_id=_run_id(row.metadata),
    )


def _match_prefix(connection: Connection, traces: Table, prefix: str) -> str | None:
    from sqlalchemy import select

    candidates = [prefix]
    if not prefix.startswith(_ID_PREFIX):
        candidates.append(_ID_PREFIX + prefix)
    for candidate in candidates:
        found = list(
            connection.execute(
                select(traces.c.trace_id)
                .where(traces.c.trace_id.startswith(candidate, autoescape=True))
                .order_by(traces.c.started_at.desc())
                .limit(_AMBIGUOUS_SHOWN + 1)
            ).scalars()
        )
        if len(found) == 1:
            return str(found[0])
        if found:
            shown = ", ".join(found[:_AMBIGUOUS_SHOWN])
            more = ", ..." if len(found) > _AMBIGUOUS_SHOWN else ""
            raise UserError(f"trace id prefix {prefix!r} is ambiguous: {shown}{more}")
    return None
