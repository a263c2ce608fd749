"""Runs in ``run`` and ``turns`` durability without a DBOS workflow: their leases.

The run's start writes a lease with its record, its end deletes it with the
end; a replica resumes the leased runs it owns when it starts, and takes a dead
replica's over. (Crashes and takeovers in child processes: test_modes_recovery.py
and test_recovery.py.) Also the writes that go in one round trip on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from dbos import DBOS

from ascent import Agent, function_tool
from ascent.durable import DurableEngine, RunRecord
from ascent.durable._leases import (
    Lease,
    adopt_leases,
    has_lease,
    lease_writer,
    owned_leases,
)
from ascent.durable._replicas import Replica
from ascent.durable._store import RunStore
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall

from ..sample_tools import lookup, refund, stalling_settle

MakeEngine = Callable[..., Any]


def support() -> Agent[Any]:
    return Agent(name="support", instructions="Be brief.", tools=[lookup, refund])


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _record(run_id: str, status: str = "running") -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord(id=run_id, agent="support", status=status, created_at=now, updated_at=now)


def _lease() -> Lease:
    return Lease(agent="support", input=[{"role": "user", "content": "hi"}], durability="run")


@pytest.mark.parametrize("durability", ["run", "turns"])
async def test_a_run_mode_run_has_no_workflow_and_its_end_deletes_its_lease(
    make_engine: MakeEngine, durability: str
) -> None:
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(
        agents=[support()], model=model, durability=durability
    )
    started = await engine.start_run("support", "Where is A-1?")
    record = await engine.wait_run(started.id)
    assert record.status == "completed" and record.output == "Shipped."
    assert await DBOS.get_workflow_status_async(record.id) is None
    assert not has_lease(engine.store, record.id)
    # starting it again under its id is idempotent, as with a workflow
    again = await engine.start_run("support", "Where is A-1?", run_id=record.id)
    assert again.status == "completed" and len(model.requests) == 2


async def stuck_leased_run(make_engine: MakeEngine) -> tuple[DurableEngine, RunRecord]:
    """A started engine (``run`` durability) and its run, inside a tool that never answers."""
    entered = asyncio.Event()

    @function_tool
    async def wait_forever(order_id: str) -> str:
        """Never answers."""
        entered.set()
        await asyncio.Event().wait()
        return "never"

    agent = Agent(name="slow", instructions="Wait.", tools=[wait_forever])
    model = ScriptedModel([ToolCall("wait_forever", {"order_id": "A-1"}), "unused"])
    engine: DurableEngine = await make_engine(agents=[agent], model=model, durability="run")
    record = await engine.start_run("slow", "Wait")
    await asyncio.wait_for(entered.wait(), 10)
    return engine, record


async def test_a_steps_run_and_a_queued_run_keep_their_workflow(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel(["One.", "Two."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, worker_concurrency=2)
    steps = await engine.wait_run((await engine.start_run("support", "a")).id)
    queued = await engine.wait_run((await engine.start_run("support", "b", durability="run")).id)
    for record in (steps, queued):
        assert record.status == "completed"
        assert await DBOS.get_workflow_status_async(record.id) is not None
        assert not has_lease(engine.store, record.id)


async def test_a_leased_run_waiting_for_approval_is_decided_and_ends(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refunded."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.wait_run((await engine.start_run("support", "Refund A-9")).id)
    assert record.status == "awaiting_approval" and has_lease(engine.store, record.id)
    call_id = record.pending_approvals[0].call_id
    await engine.decide(record.id, {call_id: True})  # no workflow to send it to
    record = await engine.wait_run(record.id, timeout=10)
    assert record.status == "completed" and record.output == "Refunded."
    assert not has_lease(engine.store, record.id)


async def test_a_cancelled_leased_run_stops_and_leaves_no_lease(make_engine: MakeEngine) -> None:
    engine, record = await stuck_leased_run(make_engine)
    task = engine._started_parts().workflows.task_of(record.id)
    assert task is not None
    cancelled = await engine.cancel_run(record.id)
    assert cancelled.status == "cancelled"
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    assert not has_lease(engine.store, record.id)
    assert (await engine.get_run(record.id)).status == "cancelled"


async def test_a_replica_resumes_its_leased_runs_when_it_starts_again(
    make_engine: MakeEngine,
) -> None:
    settle, entered, calls = stalling_settle()
    agent = Agent(name="billing", instructions="Bill.", tools=[settle])
    script = [
        ToolCall("settle", {"invoice": "I-1"}),
        ToolCall("settle", {"invoice": "I-1"}),
        "Done.",
    ]
    model = ScriptedModel(script)
    engine: DurableEngine = await make_engine(agents=[agent], model=model, durability="run")
    record = await engine.start_run("billing", "Settle I-1")
    await asyncio.wait_for(entered.wait(), 10)
    await engine.stop()  # the run stays pending, its lease this replica's
    assert has_lease(engine.store, record.id)

    engine = await make_engine(agents=[agent], model=model, durability="run")
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Done."
    assert calls == ["I-1", "I-1"]  # no checkpoint: the run ran again from its start
    assert not has_lease(engine.store, record.id)


def test_leases_are_owned_moved_and_dropped_with_their_runs_end(url: str) -> None:
    store = RunStore(url)
    for run_id, status in (("r-live", "running"), ("r-over", "running"), ("r-other", "running")):
        owner = "other" if run_id == "r-other" else "dead"
        assert store.insert_run(
            _record(run_id, status), also=lease_writer(store, run_id, owner, _lease())
        )
    store.update_run("r-over", status="cancelled", pending=[])  # it ended without its replica
    adopt_leases(store, "dead", "alive")
    owned = owned_leases(store, "alive")
    assert [run_id for run_id, _ in owned] == ["r-live"]
    assert owned[0][1] == _lease()
    assert not has_lease(store, "r-over")  # found over: deleted
    assert [run_id for run_id, _ in owned_leases(store, "other")] == ["r-other"]
    assert owned_leases(store, "dead") == []


def test_a_start_whose_id_is_taken_writes_nothing_and_the_next_write_works(url: str) -> None:
    """The start is sent in one round trip on PostgreSQL: its failure (the id taken)
    surfaces at its commit, rolls it all back, and leaves the connection usable."""
    store = RunStore(url)
    assert store.insert_run(_record("r-1"), events=[("run_started", {"agent": "a"}, None)])
    again = lease_writer(store, "r-1", "me", _lease())
    assert not store.insert_run(_record("r-1"), events=[("run_started", {}, None)], also=again)
    assert not has_lease(store, "r-1")  # rolled back with the record's insert
    assert [e.seq for e in store.read_events("r-1", after=0)] == [1]
    # batches of the log whose guess of its end is wrong (their one-trip write fails on
    # the key) are written again after its real end
    assert store.append_events("r-1", [("item", {"n": 1}, None)], after=0) == 2
    assert store.append_events("r-1", [("item", {"n": 2}, None)], after=1) == 3
    record = store.update_run(
        "r-1", status="completed", events=[("run_completed", {}, None)], after=3
    )
    assert record is not None and record.status == "completed"
    assert [e.seq for e in store.read_events("r-1", after=0)] == [1, 2, 3, 4]
    # a run on a session takes the session's lock in its one-trip start, and is stamped
    on_session = _record("r-2").model_copy(update={"session_id": "s-1"})
    assert store.insert_run(on_session, also=lease_writer(store, "r-2", "me", _lease()))
    assert has_lease(store, "r-2") and store.run_before_on_session("r-2", "s-1") is None


async def test_a_replica_told_it_was_taken_over_stops_its_leased_runs(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    # the heartbeat finds its row gone (a takeover finished): the replica hears it
    store = RunStore(sqlite_url)
    lost = asyncio.Event()
    replica = Replica(
        store,
        executor_id="paused",
        app_version="v",
        heartbeat_interval=0.02,
        takeover_after=1.0,
        lost=lost.set,
    )
    await replica.start()
    try:
        store.replicas.remove_replica("paused")
        await asyncio.wait_for(lost.wait(), 10)
    finally:
        await replica.stop()

    # what it then does: its leased runs stop here, their leases kept for the new owner
    engine, record = await stuck_leased_run(make_engine)
    workflows = engine._started_parts().workflows
    task = workflows.task_of(record.id)
    assert task is not None
    workflows.drop_leased()
    await asyncio.wait({task}, timeout=10)
    assert task.cancelled()
    assert has_lease(engine.store, record.id)
    assert (await engine.get_run(record.id)).status == "running"  # nothing written


async def test_a_turns_run_knows_where_its_log_ends_after_each_checkpoint(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its checkpoints append the events not written yet: the next batch follows
    them without reading the log's end, and the log stays gapless."""
    gate = asyncio.Event()

    @function_tool
    async def slow_lookup(order_id: str) -> str:
        """Look an order up, slowly enough for a batch to be written meanwhile."""
        await asyncio.sleep(0.15)
        gate.set()
        return f"{order_id}: shipped"

    agent = Agent(name="support", instructions="Be brief.", tools=[slow_lookup])
    script = [
        ToolCall("slow_lookup", {"order_id": "A-1"}),
        ToolCall("slow_lookup", {"order_id": "A-2"}),
        "Both shipped.",
    ]
    engine: DurableEngine = await make_engine(
        agents=[agent], model=ScriptedModel(script), durability="turns"
    )
    guesses: list[int | None] = []
    append = engine.store.append_events

    def recorded(run_id: str, events: Any, *, after: int | None = None) -> int | None:
        guesses.append(after)
        return append(run_id, events, after=after)

    monkeypatch.setattr(engine.store, "append_events", recorded)
    record = await engine.wait_run((await engine.start_run("support", "A-1 and A-2?")).id)
    assert record.status == "completed" and gate.is_set()
    assert guesses and None not in guesses  # every batch knew where the log ended
    events = engine.store.read_events(record.id, after=0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
