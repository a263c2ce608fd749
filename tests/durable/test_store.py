"""The durable tables: the replica takeover claim, and event logs under concurrent writers."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from ascent.durable import RunRecord
from ascent.durable._interpreter import EventLog, LogWriter
from ascent.durable._store import RunStore
from ascent.run.events import AgentChangedEvent


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_exactly_one_replica_claims_a_dead_one(url: str) -> None:
    store = RunStore(url)
    assert store.replicas.heartbeat("dead", "v1", starting=True)
    assert store.replicas.heartbeat("alive-1", "v1", starting=True)
    assert store.replicas.heartbeat("alive-2", "v1", starting=True)
    future = time.time() + 60
    assert sorted(store.replicas.stale_replicas("alive-1", future)) == ["alive-2", "dead"]
    assert store.replicas.stale_replicas("alive-1", time.time() - 60) == []  # all beat just now

    with ThreadPoolExecutor(8) as pool:
        wins = list(
            pool.map(lambda i: store.replicas.claim_replica("dead", f"r{i}", future), range(8))
        )
    assert wins.count(True) == 1
    assert "dead" not in store.replicas.stale_replicas(
        "alive-1", future
    )  # claimed: not offered again
    assert not store.replicas.heartbeat("dead", "v1")  # it comes back: told it was taken over
    assert store.replicas.heartbeat("dead", "v1")  # and is a live replica again

    assert store.replicas.claim_replica("dead", "alive-1", future)
    store.replicas.release_replica("dead")  # the recovery failed: another try is allowed
    assert "dead" in store.replicas.stale_replicas("alive-1", future)
    store.replicas.remove_replica("dead")
    assert "dead" not in store.replicas.stale_replicas("alive-1", future)
    # a takeover finished (the row removed): the replica that comes back is told too
    assert not store.replicas.heartbeat("dead", "v1")
    assert store.replicas.heartbeat("dead", "v1")


def test_concurrent_appends_keep_a_run_log_gapless(url: str) -> None:
    store = RunStore(url)
    now = datetime.now(UTC)
    record = RunRecord(id="r", agent="a", status="running", created_at=now, updated_at=now)
    assert store.insert_run(record, events=[("run_started", {}, None)])
    assert not store.insert_run(record)  # the id is taken

    def append(i: int) -> None:
        # a stale guess of the log's end (as after another writer's append) is retried
        after = 1 if i % 2 else None
        events = [("text_delta", {"i": i}, 1), ("text_delta", {"i": -i}, 1)]
        store.append_events("r", events, after=after)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(20)))
    events = store.read_events("r", after=0)
    assert [e.seq for e in events] == list(range(1, 42))
    assert store.read_events("r", after=40) == events[40:]
    # a stale `after` (the log has 41 events) is retried, not a gap or a lost event
    written = store.update_run(
        "r", status="completed", output="done", after=3, events=[("run_completed", {}, None)]
    )
    assert written is not None  # the record as written comes back with the write
    assert (written.status, written.output) == ("completed", "done")
    assert not store.update_run("r", status="failed")  # an ended run is not written again
    assert store.get_run("r") == written
    record, log = store.read_run_and_events("r", after=40)
    assert record == written
    assert [(e.seq, e.type) for e in log] == [(41, "text_delta"), (42, "run_completed")]
    assert store.read_run_and_events("nope", after=0) == (None, [])
    assert store.timer("k", 30) == store.timer("k", 999)  # a sleep's end is set once


def test_step_results_are_written_as_dbos_portable_json() -> None:
    from dbos import DBOSPortableJSONSerializer

    from ascent.durable._setup import JSONSerializer

    ours, theirs = JSONSerializer(), DBOSPortableJSONSerializer()
    assert ours.name() == theirs.name()  # what DBOS stores beside each value: any reader decodes it
    plain = {"items": [{"type": "message", "text": "é", "n": 1.5}], "done": True, "none": None}
    when = {"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "ids": {"a"}}  # DBOS converts these
    for value in (plain, when, [1, "two"], "text"):
        assert ours.serialize(value) == theirs.serialize(value)
        assert ours.deserialize(ours.serialize(value)) == theirs.deserialize(
            theirs.serialize(value)
        )


def _run(tenant: str | None, number: int, at: float, **values: object) -> RunRecord:
    when = datetime.fromtimestamp(at, UTC)
    fields: dict[str, object] = {
        "id": f"run-{number:03d}",
        "agent": "Echo",
        "tenant": tenant,
        "status": "completed",
        "created_at": when,
        "updated_at": when,
    }
    fields.update(values)
    return RunRecord.model_validate(fields)


def test_runs_page_by_key_newest_first_with_filters(url: str) -> None:
    store = RunStore(url)
    for number in range(10):  # pairs created at the same instant: the id orders them
        agent = "Shop" if number % 2 else "Echo"
        store.insert_run(_run("acme", number, 1000.0 + number // 2, agent=agent))
    store.insert_run(_run("globex", 99, 2000.0))
    store.insert_run(_run(None, 98, 2000.0, trace_id="trace_run-098"))

    seen: list[str] = []
    key = None
    while True:
        page, key = store.page_runs("acme", before=key, limit=3)
        seen.extend(record.id for record in page)
        if key is None:
            break
    assert seen == [f"run-{number:03d}" for number in reversed(range(10))]
    shop, key = store.page_runs("acme", agent="Shop", limit=10)
    assert [r.id for r in shop] == ["run-009", "run-007", "run-005", "run-003", "run-001"]
    assert key is None
    assert store.page_runs("acme", status="failed")[0] == []
    assert [r.id for r in store.page_runs(None, traced=True)[0]] == ["run-098"]
    assert store.page_runs("acme", traced=True)[0] == []


def test_a_pause_written_again_after_a_crash_leaves_the_decision_taken_since(url: str) -> None:
    # A replica logs the pause and dies before its step is recorded; a decision comes;
    # the recovered workflow runs the pause's step again. The run must stay decided.
    store = RunStore(url)
    now = datetime.now(UTC)
    record = RunRecord(id="r", agent="a", status="running", created_at=now, updated_at=now)
    assert store.insert_run(record, events=[("run_started", {}, None)])
    request = {"call_id": "c", "tool_name": "refund", "arguments": "{}", "agent": "a"}
    pause: list[Any] = [("approval_required", {"requests": [request]}, 3)]
    values = {"status": "awaiting_approval", "pending": [request]}
    assert store.update_run("r", events=pause, once=True, **values) is not None
    decision = [("run_resumed", {"decisions": {"c": {"approved": True}}}, None)]
    only = "awaiting_approval"
    decided = store.update_run("r", events=decision, only_status=only, status="running", pending=[])
    assert decided is not None

    again = store.update_run("r", events=pause, once=True, **values)
    assert again is not None and again.status == "running" and again.pending_approvals == []
    assert store.get_run("r") == decided  # nothing written, not even the time
    assert [e.type for e in store.read_events("r", after=0)] == [
        "run_started",
        "approval_required",
        "run_resumed",
    ]
    store.update_run("r", status="cancelled", events=[("run_cancelled", {}, None)])
    assert store.update_run("r", events=pause, once=True, **values) is None  # over


def test_usage_is_summed_per_tenant_since_a_time(url: str) -> None:
    from ascent.items import RunUsage, Usage

    store = RunStore(url)
    usage = RunUsage()
    usage.record(Usage(requests=1, input_tokens=10, output_tokens=2), agent="A", model="m")
    for number in range(4):
        store.insert_run(_run("acme", number, 1000.0 + number, usage=usage))
    store.insert_run(_run("globex", 9, 1000.0, usage=usage))
    total, runs = store.sum_usage("acme")
    assert runs == 4 and total.input_tokens == 40 and total.by_model["m"].output_tokens == 8
    total, runs = store.sum_usage("acme", since=1002.0)
    assert runs == 2 and total.by_agent["A"].requests == 2
    assert store.sum_usage("nobody") == (RunUsage(), 0)


def test_several_runs_logs_are_appended_together_and_one_by_one_when_they_must(
    url: str,
) -> None:
    store = RunStore(url)
    now = datetime.now(UTC)
    for run_id in ("a", "b", "c"):
        record = RunRecord(id=run_id, agent="x", status="running", created_at=now, updated_at=now)
        assert store.insert_run(record, events=[("run_started", {}, None)])
    together = [("a", [("item", {"n": 1}, 1)], 1), ("b", [("item", {}, 1), ("item", {}, 1)], 1)]
    assert store.append_batches(together) == [2, 3]
    # a wrong guess of a log's end (b has 3 events): each run is written on its own
    wrong = [("a", [("item", {}, 1)], 2), ("b", [("item", {}, 1)], 1)]
    assert store.append_batches(wrong) == [3, 4]
    # a handoff needs its outbox row, with the run's record: written on its own too
    handoff = ("agent_changed", {"agent": "y", "previous": "x"}, 1)
    assert store.append_batches([("a", [handoff], 3), ("c", [("item", {}, 1)], 1)]) == [4, 2]
    assert [e.seq for e in store.read_events("a", after=0)] == [1, 2, 3, 4]
    assert [e.seq for e in store.read_events("b", after=0)] == [1, 2, 3, 4]
    assert [e.seq for e in store.read_events("c", after=0)] == [1, 2]
    # logs whose end is unknown are read first, each on its own
    results = store.append_batches([("c", [("item", {}, 1)], None), ("b", [handoff], None)])
    assert results == [3, 5]
    # a log whose end is unknown does not keep the others from going together
    item = ("item", {}, 1)
    assert store.append_batches([("a", [item], None), ("b", [item], 5), ("c", [item], 3)]) == [
        5,
        6,
        4,
    ]
    assert [e.seq for e in store.read_events("c", after=0)] == [1, 2, 3, 4]


async def test_one_round_writes_the_logs_of_all_runs_that_have_events_waiting(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(sqlite_url)
    now = datetime.now(UTC)
    calls: list[list[str]] = []
    append = store.append_batches

    def counted(batches: Any) -> Any:
        calls.append([run_id for run_id, _events, _after in batches])
        return append(batches)

    monkeypatch.setattr(store, "append_batches", counted)
    writer = LogWriter(store)
    notified: list[str] = []
    logs = []
    for run_id in ("a", "b", "c"):
        record = RunRecord(id=run_id, agent="x", status="running", created_at=now, updated_at=now)
        assert store.insert_run(record, events=[("run_started", {}, None)])
        logs.append(
            EventLog(
                store, run_id, notify=notified.append, retried_step=None, last_seq=1, writer=writer
            )
        )
    for log in logs[:2]:
        log.emit(AgentChangedEvent(agent="x"))
    await asyncio.sleep(0.2)
    assert calls == [["a", "b"]]  # one write for both, none for the run without events
    assert sorted(notified) == ["a", "b"]
    assert [log.last_seq for log in logs] == [2, 2, 1]
    logs[2].emit(AgentChangedEvent(agent="x"))
    await logs[2].flush()  # a flush of its own still writes at once
    assert calls == [["a", "b"]] and logs[2].last_seq == 2
    assert [e.type for e in store.read_events("c", after=0)] == ["run_started", "agent_changed"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_late_flush_adds_nothing_after_a_runs_end(
    database: str, request: pytest.FixtureRequest
) -> None:
    """A step still streaming when its run is cancelled flushes its log afterwards:
    those events (and the outbox rows of any it reports) are dropped, alone or in a
    batch; a log with no run record is written as it comes."""
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    store = RunStore(url)
    now = datetime.now(UTC)
    for run_id in ("over", "live"):
        record = RunRecord(id=run_id, agent="a", status="running", created_at=now, updated_at=now)
        assert store.insert_run(record, events=[("run_started", {"agent": "a"}, None)])
    store.update_run("over", status="cancelled", events=[("run_cancelled", {}, None)])
    outbox_before = _outbox_count(store)

    handoff = ("agent_changed", {"agent": "b", "previous": "a"}, 3)
    assert store.append_events("over", [("item", {"n": 1}, 3), handoff]) == 2
    store.append_batches([("over", [("item", {"n": 2}, 3)], 2), ("live", [("item", {}, 3)], 1)])
    store.append_events("nobody", [("item", {"n": 3}, None)])

    assert [e.type for e in store.read_events("over", after=0)] == ["run_started", "run_cancelled"]
    assert [e.type for e in store.read_events("live", after=0)] == ["run_started", "item"]
    assert [e.type for e in store.read_events("nobody", after=0)] == ["item"]
    assert _outbox_count(store) == outbox_before


def _outbox_count(store: RunStore) -> int:
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(store.tables.outbox)).scalar_one())


def _writes(store: RunStore) -> RunRecord | None:
    """A run's writes, as the engine makes them: its start, a batch of its log, a
    step's record update logged once, its end."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = RunRecord(
        id="r", agent="a", tenant="t", status="running", created_at=now, updated_at=now
    )
    assert store.insert_run(record, events=[("run_started", {"agent": "a"}, None)])
    assert not store.insert_run(record)  # taken: False, nothing written
    assert store.append_events("r", [("text_delta", {"delta": "é"}, 1)], after=1) == 2
    request = {"call_id": "c", "tool_name": "refund", "arguments": "{}", "agent": "a"}
    events: list[Any] = [("approval_required", {"requests": [request]}, 2)]
    for _ in range(2):  # the step again after a crash: logged once
        store.update_run(
            "r", events=events, once=True, status="awaiting_approval", pending=[request]
        )
    ended = store.update_run(
        "r",
        events=[("text_delta", '{"delta":"!"}', 3), ("run_completed", {"output": 5}, None)],
        after=3,
        status="completed",
        output=5,
        usage={"requests": 1},
        pending=[],
    )
    assert store.update_run("r", status="failed") is None  # over: not written again
    return ended


def _contents(store: RunStore) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the run tables, times and generated ids aside."""
    from sqlalchemy import select

    tables = store.tables
    volatile = {"updated_at", "created_at", "time", "id", "seq"}
    found: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as conn:
        for table in (tables.runs, tables.events, tables.outbox):
            columns = [c for c in table.c if c.name not in volatile or table is tables.events]
            columns = [c for c in columns if c.name != "created_at"]
            found[table.name] = [tuple(row) for row in conn.execute(select(*columns))]
    return found


def test_sqlites_own_connection_writes_what_sqlalchemys_does(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the run store writes on sqlite3's own connection
    (``write_transaction(driver=True)``): the same records, logs and outbox rows as
    through SQLAlchemy's execution layer."""
    import ascent.storage as storage

    direct = RunStore(f"sqlite:///{tmp_path / 'direct.db'}")
    direct_end = _writes(direct)
    monkeypatch.setattr(storage, "_DRIVERS", ("psycopg",))  # SQLAlchemy's connection
    through = RunStore(f"sqlite:///{tmp_path / 'through.db'}")
    through_end = _writes(through)

    assert direct_end is not None and through_end is not None
    assert direct_end.model_dump(exclude={"updated_at"}) == through_end.model_dump(
        exclude={"updated_at"}
    )
    assert direct_end.output == 5 and direct_end.status == "completed"
    contents = _contents(direct)
    assert contents == _contents(through)
    assert [row[2] for row in contents["ascent_run_events"]] == [
        "run_started",
        "text_delta",
        "approval_required",
        "text_delta",
        "run_completed",
    ]
    assert [row[1] for row in contents["ascent_run_events"]] == [1, 2, 3, 4, 5]
