"""The transactional outbox and its relay, on SQLite and PostgreSQL: an event is
written if and only if its change committed, and relays share the outbox without
publishing a row twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ascent.durable import RunRecord
from ascent.durable._store import RunStore  # the writes the outbox rides on

# the store's writes are what the outbox rides on; the engine's own tests cover them
from ascent.durable.outbox import Outbox
from ascent.events import (
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_HANDOFF,
    RUN_QUEUED,
    RUN_STARTED,
    CloudEvent,
    LocalBroker,
    OutboxRelay,
    parse_event,
)
from ascent.storage import dispose_engines
from ascent.testing.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        yield server.create_database(f"outbox_{uuid.uuid4().hex[:12]}")
    dispose_engines()


def record(run_id: str, status: str = "running", tenant: str | None = "acme") -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord.model_validate(
        {
            "id": run_id,
            "agent": "support",
            "tenant": tenant,
            "status": status,
            "created_at": now,
            "updated_at": now,
        }
    )


def types(outbox: Outbox, run_id: str) -> list[str]:
    return [entry.type for entry in outbox.entries(subject=run_id)]


def test_each_change_of_a_run_writes_its_events_in_the_same_transaction(database_url: str) -> None:
    store, outbox = RunStore(database_url), Outbox(database_url)
    assert store.insert_run(record("r1", "queued"), events=[("run_started", {}, None)])
    assert types(outbox, "r1") == [RUN_QUEUED]
    store.update_run("r1", status="running", only_status="queued")
    store.append_events("r1", [("agent_changed", {"agent": "support", "previous": None}, 1)])
    store.append_events("r1", [("agent_changed", {"agent": "billing", "previous": "support"}, 2)])
    pending = [
        {"call_id": "c1", "tool_name": "refund", "arguments": '{"id": 7}', "agent": "billing"}
    ]
    store.update_run(
        "r1",
        status="awaiting_approval",
        pending=pending,
        events=[("approval_required", {"agent": "billing", "requests": pending}, 3)],
    )
    decision = {"c1": {"approved": False, "reason": "too much"}}
    store.update_run(
        "r1",
        status="running",
        pending=[],
        only_status="awaiting_approval",
        events=[("run_resumed", {"decisions": decision}, None)],
    )
    store.update_run(
        "r1", status="completed", output="done", events=[("run_completed", {"output": "done"}, 4)]
    )
    assert types(outbox, "r1") == [
        RUN_QUEUED,
        RUN_STARTED,
        RUN_HANDOFF,  # the first agent_changed is the run's first agent, not a handoff
        APPROVAL_REQUIRED,
        APPROVAL_DECIDED,
        RUN_COMPLETED,
    ]
    entries = {entry.type: entry for entry in outbox.entries(subject="r1")}
    assert entries[RUN_HANDOFF].data["from_agent"] == "support"
    assert entries[RUN_HANDOFF].data["to_agent"] == "billing"
    review = entries[APPROVAL_REQUIRED]
    assert (review.tenant, review.agent, review.subject) == ("acme", "support", "r1")
    assert review.data == {
        "run_id": "r1",
        "tenant": "acme",
        "agent": "support",
        "call_id": "c1",
        "tool": "refund",
        "arguments": {"id": 7},
        "requested_by": "billing",
    }
    assert entries[APPROVAL_DECIDED].data["decisions"] == [
        {"call_id": "c1", "approved": False, "reason": "too much"}
    ]
    assert entries[RUN_COMPLETED].data["output"] == "done"
    assert len({entry.id for entry in outbox.entries()}) == 6


def test_a_change_that_does_not_commit_writes_no_event(database_url: str) -> None:
    store, outbox = RunStore(database_url), Outbox(database_url)
    assert store.insert_run(record("r2"))
    assert not store.insert_run(record("r2"))  # the id is taken: rolled back, no event
    store.update_run("r2", status="cancelled", events=[("run_cancelled", {"run_id": "r2"}, None)])
    # the run is over: a late completion writes nothing, and reports nothing
    late = store.update_run(
        "r2", status="completed", events=[("run_completed", {"output": "late"}, 9)]
    )
    assert late is None
    assert types(outbox, "r2") == [RUN_STARTED, RUN_CANCELLED]


def test_relays_claim_rows_apart_and_a_lapsed_claim_goes_to_another(database_url: str) -> None:
    store, outbox = RunStore(database_url), Outbox(database_url)
    for n in range(5):
        store.insert_run(record(f"c{n}"))
    first = outbox.claim("relay-a", limit=3)
    second = outbox.claim("relay-b", limit=10)
    assert [e.subject for e in first] == ["c0", "c1", "c2"]
    assert [e.subject for e in second] == ["c3", "c4"]
    assert outbox.claim("relay-c") == []
    # relay-b cannot mark what relay-a holds
    assert outbox.mark_published([e.seq for e in first], "relay-b") == 0
    assert outbox.mark_published([e.seq for e in second], "relay-b") == 2
    # relay-a dies holding its claim: once the lease runs out another relay takes it
    assert outbox.claim("relay-c", lease=0.0) == []
    # relay-a restarted (under its name) takes its own claims back at once; here with
    # a lease that runs out at once, as if it died again
    again = outbox.claim("relay-a", lease=0.0)
    assert [e.subject for e in again] == ["c0", "c1", "c2"]
    taken = outbox.claim("relay-c")
    assert [e.subject for e in taken] == ["c0", "c1", "c2"]
    assert outbox.lag()[0] == 3
    outbox.release([e.seq for e in taken], "relay-c")
    assert [e.subject for e in outbox.claim("relay-d")] == ["c0", "c1", "c2"]


async def test_the_relay_publishes_each_runs_events_in_order_and_retries_a_failed_one(
    database_url: str,
) -> None:
    store = RunStore(database_url)
    for n in range(3):
        store.insert_run(record(f"p{n}"))
    store.update_run("p1", status="cancelled", events=[("run_cancelled", {}, None)])
    broker = LocalBroker()
    seen: list[CloudEvent] = []

    async def take(body: bytes) -> None:
        seen.append(parse_event(body))

    await broker.subscribe("ascent.runs", take)
    failures = [1]
    publish = broker.publish

    async def flaky(topic: str, body: bytes) -> None:
        if parse_event(body).subject == "p1" and failures:
            failures.pop()
            raise ConnectionError("the broker is away")
        await publish(topic, body)

    broker.publish = flaky  # type: ignore[method-assign]
    relay = OutboxRelay(database_url, broker, name="relay-1")
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    await broker.join()
    # p1's first event failed: its second waits behind it; the other runs went out
    assert sorted(e.subject or "" for e in seen) == ["p0", "p2"]
    assert relay.outbox.lag()[0] == 2
    assert await relay.publish_pending() == 2
    await broker.join()
    assert [(e.subject, e.type) for e in seen[2:]] == [("p1", RUN_STARTED), ("p1", RUN_CANCELLED)]
    assert relay.outbox.lag() == (0, None)
    assert await relay.publish_pending() == 0
    stored = {entry.id for entry in relay.outbox.entries()}
    assert {e.id for e in seen} == stored  # the published ids are the rows' ids
    assert all(e.tenant == "acme" for e in seen)


def test_the_catalogue_names_every_type_the_outbox_writes() -> None:
    from ascent.durable.outbox import TOPICS
    from ascent.events import CATALOGUE

    assert set(TOPICS) <= {entry.type for entry in CATALOGUE}
    for entry in CATALOGUE:
        assert entry.type.startswith("ascent.") and entry.type.rsplit(".", 1)[1] == "v1"
        assert TOPICS.get(entry.type, entry.topic) == entry.topic


def test_published_events_are_pruned_after_their_retention(database_url: str) -> None:
    store, outbox = RunStore(database_url), Outbox(database_url)
    store.insert_run(record("old"))
    store.insert_run(record("waiting"))
    [old, _] = outbox.claim("relay-a")
    outbox.mark_published([old.seq], "relay-a")
    assert outbox.prune(older_than=3600) == 0  # published just now: kept
    assert outbox.prune(older_than=-1) == 1  # past its retention: gone
    assert [e.subject for e in outbox.entries()] == ["waiting"]  # unpublished: never pruned


async def test_a_commit_in_this_process_wakes_the_relay_and_a_rollback_does_not(
    database_url: str,
) -> None:
    """The relay looks for rows only once an hour here: what it publishes, it heard of."""
    import asyncio

    broker = LocalBroker()
    seen: asyncio.Queue[CloudEvent] = asyncio.Queue()

    async def take(body: bytes) -> None:
        seen.put_nowait(parse_event(body))

    await broker.subscribe("ascent.runs", take)
    relay = OutboxRelay(database_url, broker, name="relay-w", interval=3600.0)
    await relay.start()
    try:
        await asyncio.sleep(0.1)  # its first look, at start, found nothing
        store = RunStore(database_url)
        assert await asyncio.to_thread(store.insert_run, record("w1"))
        first = await asyncio.wait_for(seen.get(), 30)
        assert (first.subject, first.type) == ("w1", RUN_STARTED)
        # a write that rolls back wakes nobody (and has nothing to publish)
        woken: list[int] = []
        stop = relay.outbox.on_write(lambda: woken.append(1))
        assert not await asyncio.to_thread(store.insert_run, record("w1"))
        assert woken == []
        await asyncio.to_thread(store.insert_run, record("w2"))
        assert woken == [1]
        stop()
        second = await asyncio.wait_for(seen.get(), 30)
        assert second.subject == "w2"
    finally:
        await relay.stop()
    # a stopped relay listens no more
    await asyncio.to_thread(RunStore(database_url).insert_run, record("w3"))
    await broker.join()
    assert seen.empty()


async def test_a_relay_stops_when_a_wake_comes_with_the_stop(database_url: str) -> None:
    """A wake and a stop in the same turn of the loop: the relay ends (Python 3.11's
    ``wait_for`` returned the wake and lost the cancellation, and it ran on)."""
    import asyncio

    relay = OutboxRelay(database_url, LocalBroker(), name="relay-s", interval=3600.0)
    await relay.start()
    for _ in range(3):  # its first pass, at start, found nothing: now it waits
        await asyncio.sleep(0.05)
    relay.wake()
    stopping = asyncio.ensure_future(relay.stop())
    done, _ = await asyncio.wait({stopping}, timeout=30)
    assert stopping in done  # it ended; it did not go on waiting for the next wake
