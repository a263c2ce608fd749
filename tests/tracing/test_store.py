"""The local trace store on SQLite and on a real PostgreSQL, and the database settings behind it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from ascent.errors import UserError
from ascent.storage import (
    database_url,
    dispose_engines,
    get_engine,
    normalize_url,
    sqlite_path,
)
from ascent.tracing import BatchTraceProcessor, SpanRecord, TraceProvider, TraceRecord
from ascent.tracing.redaction import REDACTED
from ascent.tracing.store import (
    SPANS_TABLE,
    TRACES_TABLE,
    SQLTraceStore,
    default_exporter,
)

T0 = 1_700_000_000.0
SUPPORT_ID = "trace_" + "a" * 32


def trace_record(
    trace_id: str = SUPPORT_ID,
    *,
    workflow: str = "Support flow",
    start: float = T0,
    end: float | None = None,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> TraceRecord:
    return TraceRecord(
        trace_id=trace_id,
        workflow=workflow,
        started_at=start,
        ended_at=end,
        error=error,
        metadata=metadata or {},
    )


def span_record(
    trace_id: str,
    span_id: str,
    kind: Any,
    name: str,
    *,
    start: float,
    end: float,
    parent: str | None = None,
    error: str | None = None,
    **attributes: Any,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent,
        kind=kind,
        name=name,
        started_at=start,
        ended_at=end,
        attributes=attributes,
        error=error,
    )


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"requests": 1, "input_tokens": prompt, "output_tokens": completion}


def support_run(
    trace_id: str = SUPPORT_ID, *, start: float = T0, error: str | None = None
) -> list[TraceRecord | SpanRecord]:
    """A run as the batch processor delivers it: trace start, spans as they end, trace end.

    Triage checks a guardrail, calls the model, hands off to Billing; Billing calls
    the model, a tool, the model again. 3 turns, 682 tokens, 1.5 s.
    """

    def span(span_id: str, kind: str, name: str, offset: float, length: float, **kw: Any) -> Any:
        full_id = f"{trace_id}:{span_id}"
        end = start + offset + length
        return span_record(trace_id, full_id, kind, name, start=start + offset, end=end, **kw)

    triage, billing = f"{trace_id}:triage", f"{trace_id}:billing"
    return [
        trace_record(trace_id, start=start),
        span("guard", "guardrail", "no_homework", 0.01, 0.01, parent=triage,
             stage="input", triggered=False),
        span("m1", "model", "offline", 0.01, 0.19, parent=triage, model="offline",
             usage=usage(120, 30)),
        span("handoff", "handoff", "Triage -> Billing", 0.3, 0.01, parent=triage,
             from_agent="Triage", to_agent="Billing"),
        span("triage", "agent", "Triage", 0.0, 0.5, tools=[], handoffs=["Billing"]),
        span("m2", "model", "offline", 0.55, 0.25, parent=billing, usage=usage(200, 12)),
        span("tool", "tool", "lookup_order", 0.8, 0.1, parent=billing, call_id="call_1",
             arguments='{"order_id": "A-1042"}', output="A-1042 left on Monday",
             is_error=False),
        span("m3", "model", "offline", 0.9, 0.5, parent=billing, usage=usage(300, 20)),
        span("billing", "agent", "Billing", 0.5, 1.0, tools=["lookup_order"]),
        trace_record(trace_id, start=start, end=start + 1.5, error=error),
    ]  # fmt: skip


# ------------------------------------------------------------------ the store


def test_a_run_round_trips_with_its_span_tree(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    records = support_run()
    store.export(records)

    found = store.get_trace(SUPPORT_ID)
    assert found is not None
    trace, spans = found
    assert trace == trace_record(end=T0 + 1.5)
    expected = sorted(
        (r for r in records if isinstance(r, SpanRecord)), key=lambda span: span.started_at
    )
    assert spans == expected  # every field, attributes included, in start order
    assert [span.name for span in spans] == [
        "Triage",
        "no_homework",
        "offline",
        "Triage -> Billing",
        "Billing",
        "offline",
        "lookup_order",
        "offline",
    ]
    parents = {span.name: span.parent_id for span in spans if span.kind != "model"}
    assert parents["Triage"] is None
    assert parents["lookup_order"] == f"{SUPPORT_ID}:billing"
    assert parents["Triage -> Billing"] == f"{SUPPORT_ID}:triage"


def test_a_trace_is_upserted_when_it_starts_then_ends(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    store.export([trace_record(metadata={"user": "ada"})])
    summary = store.list_traces()[0]
    assert (summary.ended_at, summary.duration, summary.error) == (None, None, None)

    store.export([trace_record(end=T0 + 2, error="MaxTurnsExceeded: 10", metadata={"user": "ada"})])
    found = store.get_trace(SUPPORT_ID)
    assert found is not None
    assert found[0] == trace_record(
        end=T0 + 2, error="MaxTurnsExceeded: 10", metadata={"user": "ada"}
    )
    assert len(store.list_traces()) == 1

    # A stale "started" copy arriving late does not erase the end.
    store.export([trace_record(metadata={"user": "ada"})])
    found = store.get_trace(SUPPORT_ID)
    assert found is not None
    assert (found[0].ended_at, found[0].error) == (T0 + 2, "MaxTurnsExceeded: 10")


def test_start_and_end_in_one_batch(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    store.export([trace_record(), trace_record(end=T0 + 1, error="boom")])
    found = store.get_trace(SUPPORT_ID)
    assert found is not None
    assert (found[0].ended_at, found[0].error) == (T0 + 1, "boom")


def test_a_span_written_twice_keeps_one_row(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    first = span_record(SUPPORT_ID, "span_1", "custom", "fetch", start=T0, end=T0 + 1, step=1)
    second = first.model_copy(update={"attributes": {"step": 2}})
    store.export([trace_record(), first, second])
    store.export([second])
    found = store.get_trace(SUPPORT_ID)
    assert found is not None
    assert found[1] == [second]


def test_list_traces_sums_up_each_trace(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    store.export(support_run())
    failing = "trace_" + "b" * 32
    run = support_run(failing, start=T0 + 10)
    run.insert(-1, span_record(failing, "late", "tool", "refund", start=T0 + 11.45,
                               end=T0 + 11.46, error="ToolError: refund failed"))  # fmt: skip
    run.insert(-1, span_record(failing, "again", "agent", "Triage", start=T0 + 11.46,
                               end=T0 + 11.5))  # fmt: skip
    store.export(run)
    store.export([trace_record("trace_" + "c" * 32, workflow="Crashed", start=T0 + 20,
                               error="RuntimeError: gone")])  # fmt: skip

    newest, failed, support = store.list_traces()
    assert support.model_dump() == {
        "trace_id": SUPPORT_ID,
        "workflow": "Support flow",
        "started_at": T0,
        "ended_at": T0 + 1.5,
        "duration": pytest.approx(1.5),
        "agents": ["Triage", "Billing"],
        "turns": 3,
        "tokens": 682,
        "error": None,
        "run_id": None,
    }
    # Agents are distinct, in order of appearance; the first span error stands for the trace.
    assert failed.agents == ["Triage", "Billing"]
    assert failed.error == "ToolError: refund failed"
    # An unfinished trace: no duration, no spans, its own error.
    assert (newest.workflow, newest.duration, newest.turns, newest.tokens, newest.agents) == (
        "Crashed",
        None,
        0,
        0,
        [],
    )
    assert newest.error == "RuntimeError: gone"
    assert [summary.trace_id for summary in store.list_traces(limit=2)] == [
        newest.trace_id,
        failing,
    ]


def test_the_trace_error_wins_over_span_errors(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    run = support_run(error="InputGuardrailTripwireTriggered: no_homework")
    run.insert(1, span_record(SUPPORT_ID, "x", "tool", "t", start=T0, end=T0, error="ToolError"))
    store.export(run)
    assert store.list_traces()[0].error == "InputGuardrailTripwireTriggered: no_homework"


def test_a_trace_is_found_by_a_unique_prefix(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    first, second = "trace_12ab" + "0" * 28, "trace_12cd" + "0" * 28
    store.export([trace_record(first), trace_record(second, start=T0 + 1)])
    store.export([trace_record("custom-id_1", workflow="Mine")])

    for query in (first, "trace_12a", "12a", "  12ab  "):
        found = store.get_trace(query)
        assert found is not None and found[0].trace_id == first, query
    found = store.get_trace("custom")
    assert found is not None and found[0].workflow == "Mine"
    with pytest.raises(UserError, match="ambiguous") as caught:
        store.get_trace("trace_12")
    assert first in str(caught.value) and second in str(caught.value)
    assert store.get_trace("12ff") is None
    assert store.get_trace("") is None
    # LIKE wildcards in a query are literal characters, not patterns.
    assert store.get_trace("trace%") is None
    assert store.get_trace("custom_id") is None


def test_many_batches(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    records: list[TraceRecord | SpanRecord] = []
    for number in range(60):
        records += support_run(f"trace_{number:032x}", start=T0 + number)
    for start in range(0, len(records), 97):  # batches split runs at arbitrary points
        store.export(records[start : start + 97])

    summaries = store.list_traces(limit=100)
    assert len(summaries) == 60
    assert [summary.started_at for summary in summaries] == [T0 + n for n in range(59, -1, -1)]
    assert {(summary.turns, summary.tokens) for summary in summaries} == {(3, 682)}
    assert [summary.duration for summary in summaries] == pytest.approx([1.5] * 60)
    found = store.get_trace(f"trace_{17:032x}")
    assert found is not None and len(found[1]) == 8


def test_the_batch_processor_writes_to_the_store(store_url: str) -> None:
    """End to end: spans made the way runs make them, redacted, batched, written."""
    store = SQLTraceStore(store_url)
    processor = BatchTraceProcessor(store, interval=60)  # only force_flush writes
    provider = TraceProvider()
    provider.set_processors([processor])
    secret = '{"card": "4242", "api_key": "sk-abcdefghijklmnop1234"}'
    with (
        provider.trace("Checkout", metadata={"user": "ada"}) as trace,
        provider.span("agent", "Cashier", trace=trace, parent=None) as agent,
    ):
        model_usage = {"model": "offline", "usage": usage(40, 2)}
        provider.span(
            "model", "offline", trace=trace, parent=agent, attributes=model_usage
        ).start().finish()
        tool = provider.span(
            "tool", "charge", trace=trace, parent=agent, attributes={"arguments": secret}
        )
        with pytest.raises(RuntimeError), tool:
            raise RuntimeError("card declined")
    provider.flush()

    found = store.get_trace(trace.trace_id)
    assert found is not None
    stored, spans = found
    assert (stored.workflow, stored.metadata, stored.ended_at) == (
        "Checkout",
        {"user": "ada"},
        trace.ended_at,
    )
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"Cashier", "offline", "charge"}
    assert by_name["offline"].parent_id == by_name["Cashier"].span_id == agent.span_id
    assert by_name["charge"].error == "RuntimeError: card declined"
    assert REDACTED in by_name["charge"].attributes["arguments"]
    assert "sk-abcdefghijklmnop1234" not in by_name["charge"].attributes["arguments"]
    assert store.list_traces()[0].tokens == 42
    processor.shutdown()


def test_a_large_batch_from_the_processor_is_written_whole(store_url: str) -> None:
    """More spans than one SQLite statement takes (64 rows), in one batch, one leaking a key."""
    store = SQLTraceStore(store_url)
    processor = BatchTraceProcessor(store, interval=60)  # only force_flush writes
    provider = TraceProvider()
    provider.set_processors([processor])
    traces = []
    for number in range(3):
        with provider.trace(f"flow {number}") as trace:
            for step in range(47):  # 3 x 47 = 141 spans: statements of 64, 64, 8, 4, 1 rows
                attributes = {"step": step, "note": None, "text": "ça va"}
                if (number, step) == (1, 20):
                    attributes["text"] = "key sk-abcdefghijklmnop1234"
                provider.span(
                    "custom", f"s{step}", trace=trace, parent=None, attributes=attributes
                ).start().finish(RuntimeError("flaky") if step == 46 else None)
        traces.append(trace)
    provider.flush()

    for number, trace in enumerate(traces):
        found = store.get_trace(trace.trace_id)
        assert found is not None
        stored, spans = found
        assert (stored.workflow, stored.ended_at) == (f"flow {number}", trace.ended_at)
        assert [span.name for span in spans] == [f"s{step}" for step in range(47)]
        assert [span.error for span in spans] == [None] * 46 + ["RuntimeError: flaky"]
        texts = [span.attributes["text"] for span in spans]
        expected = ["ça va"] * 47
        if number == 1:
            expected[20] = f"key {REDACTED}"
        assert texts == expected
        assert spans[0].attributes == {"step": 0, "note": None, "text": "ça va"}
        assert {span.parent_id for span in spans} == {None}
    processor.shutdown()


def test_tables_and_indexes(store_url: str) -> None:
    SQLTraceStore(store_url).export([trace_record()])
    inspector = inspect(get_engine(store_url))
    assert {TRACES_TABLE, SPANS_TABLE} <= set(inspector.get_table_names())
    assert inspector.get_pk_constraint(SPANS_TABLE)["constrained_columns"] == [
        "trace_id",
        "span_id",
    ]
    indexed = {tuple(index["column_names"]) for index in inspector.get_indexes(TRACES_TABLE)}
    assert ("started_at",) in indexed


def test_reading_never_creates_the_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "ascent.db"
    store = SQLTraceStore(f"sqlite:///{path}")
    assert store.list_traces() == []
    assert store.get_trace("anything") is None
    assert not path.parent.exists()


def test_reading_a_database_without_trace_tables(sqlite_url: str) -> None:
    with get_engine(sqlite_url).begin() as connection:
        connection.execute(text("CREATE TABLE other (x INTEGER)"))
    store = SQLTraceStore(sqlite_url)
    assert store.list_traces() == []
    assert store.get_trace("trace_1") is None


def test_default_exporter_uses_the_project_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ASCENT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    exporter = default_exporter()
    assert isinstance(exporter, SQLTraceStore)
    assert exporter.url == f"sqlite:///{tmp_path / '.ascent' / 'ascent.db'}"
    monkeypatch.setenv("ASCENT_DATABASE_URL", "postgresql://db.example/ascent")
    assert SQLTraceStore().url == "postgresql://db.example/ascent"


# --------------------------------------------------------------------- storage


def test_database_url_defaults_to_a_file_under_dot_ascent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ASCENT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path}/.ascent/ascent.db"
    assert not (tmp_path / ".ascent").exists()  # only made with an engine
    try:
        engine = get_engine()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert (tmp_path / ".ascent" / "ascent.db").is_file()
    finally:
        dispose_engines()
    monkeypatch.setenv("ASCENT_DATABASE_URL", " sqlite:////elsewhere/x.db ")
    assert database_url() == "sqlite:////elsewhere/x.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5/db", "postgresql+psycopg://u:p@h:5/db"),
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////tmp/a/b.db") == Path("/tmp/a/b.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://h/db") is None


def test_one_engine_per_url_and_sqlite_is_set_up_for_concurrency(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    assert get_engine(sqlite_url) is engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_postgres_urls_use_psycopg(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    assert engine.dialect.driver == "psycopg"
    # checked before use only after sitting idle (tests/test_storage_idle_ping.py)
    assert not engine.pool._pre_ping  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_bad_url_is_a_user_error() -> None:
    with pytest.raises(UserError, match="not a usable database URL"):
        get_engine("nosuchdb://x")


def test_import_ascent_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, ascent, ascent.tracing, ascent.tracing.store, ascent.storage, ascent.cli\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    env = {**os.environ, "ASCENT_TRACING": "off"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_traces_page_by_key_and_are_found_by_ids(store_url: str) -> None:
    store = SQLTraceStore(store_url)
    store.export(
        [
            TraceRecord(
                trace_id=f"trace_{number:02d}",
                workflow="w",
                started_at=100.0 + number // 2,
                metadata={"run_id": f"run-{number}"} if number % 2 else {},
            )
            for number in range(7)
        ]
    )
    seen: list[str] = []
    before = None
    while True:
        page = store.list_traces(3, before=before)
        seen.extend(summary.trace_id for summary in page)
        if len(page) < 3:
            break
        before = (page[-1].started_at, page[-1].trace_id)
    assert seen == [f"trace_{number:02d}" for number in reversed(range(7))]
    found = store.summaries(["trace_03", "trace_nothing", "trace_00", "trace_03"])
    assert [(s.trace_id, s.run_id) for s in found] == [("trace_03", "run-3"), ("trace_00", None)]
    assert store.summaries([]) == []
