"""``DurableEngine.start_runs``: a burst of queued runs written together, each
start answered as ``start_run`` would answer it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ascent import Agent
from ascent.durable import RunRecord, RunStart
from ascent.durable._intake import RunQueueWriter
from ascent.errors import AgentNotFound, RunConflict
from ascent.testing import ScriptedModel

from ..engines import engine_maker


def noter() -> Agent[Any]:
    return Agent(name="noter", instructions="Note it.")


async def wait_done(engine: Any, run_ids: list[str], tenant: str | None = None) -> list[RunRecord]:
    return [await engine.wait_run(run_id, tenant=tenant, timeout=30) for run_id in run_ids]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


async def test_a_burst_is_queued_together_and_each_start_gets_its_own_answer(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    write = RunQueueWriter.write

    def counted(self: RunQueueWriter, runs: Any, **options: Any) -> set[str]:
        writes.append(len(runs))
        return write(self, runs, **options)

    monkeypatch.setattr(RunQueueWriter, "write", counted)
    async with engine_maker(database, worker_concurrency=2) as make:
        engine = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 20))
        earlier = await engine.start_run("noter", "before", run_id="run-0")
        starts = [
            RunStart(agent="noter", input=f"order {n}", run_id=f"run-{n}", tenant="acme")
            for n in range(1, 6)
        ]
        starts += [
            RunStart(agent="noter", input="again", run_id="run-2", tenant="acme"),  # twice
            RunStart(agent="nobody", input="x", run_id="run-x"),  # unknown agent
            RunStart(agent="noter", input="old", run_id="run-0"),  # started before
            RunStart(agent="noter", input="x", run_id="run-1", tenant="other"),  # taken
        ]
        answers = await engine.start_runs(starts)

        assert writes == [6]  # one write: it adds the five new runs, not run-0
        assert len(answers) == len(starts)
        new = answers[:5]
        assert all(isinstance(a, RunRecord) and a.status == "queued" for a in new)
        assert [a.id for a in new if isinstance(a, RunRecord)] == [f"run-{n}" for n in range(1, 6)]
        assert isinstance(answers[5], RunRecord) and answers[5].id == "run-2"
        assert isinstance(answers[6], AgentNotFound)
        assert isinstance(answers[7], RunRecord) and answers[7].id == earlier.id
        assert isinstance(answers[8], RunConflict)

        done = await wait_done(engine, ["run-0"])
        done += await wait_done(engine, [f"run-{n}" for n in range(1, 6)], tenant="acme")
        assert [r.status for r in done] == ["completed"] * 6
        runs = await engine.list_runs(tenant="acme")
        assert sorted(r.id for r in runs) == [f"run-{n}" for n in range(1, 6)]
        log = [e async for e in engine.events("run-3", tenant="acme")]
        first = log[0]
        assert (first.type, first.data) == ("run_started", {"agent": "noter"})


async def test_a_burst_whose_queue_write_fails_is_started_one_by_one(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the records commit, DBOS's queue write fails (a crash between the
    two looks the same to the next start): each run is then queued by
    ``start_run``, which finds its record and enqueues its workflow, once."""

    def fails(conn: Any) -> None:
        raise ConnectionError("the system database is away")

    async with engine_maker(sqlite_url, worker_concurrency=2) as make:
        engine = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 10))
        monkeypatch.setattr(RunQueueWriter, "_enqueue", lambda self, conn, run: fails(conn))
        starts = [RunStart(agent="noter", input=f"o{n}", run_id=f"r{n}") for n in range(4)]
        answers = await engine.start_runs(starts)
        assert [a.id for a in answers if isinstance(a, RunRecord)] == [s.run_id for s in starts]
        done = await wait_done(engine, [s.run_id for s in starts])
        assert [r.status for r in done] == ["completed"] * 4
        # one run per start, each with one log, begun once
        for start in starts:
            log = [e async for e in engine.events(start.run_id)]
            assert [e.type for e in log].count("run_started") == 1


def record(run_id: str) -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord(id=run_id, agent="a", status="queued", created_at=now, updated_at=now)


async def test_concurrent_event_starts_are_coalesced_into_one_engine_call() -> None:
    from ascent.events._coalesce import StartCoalescer

    calls: list[list[str]] = []

    class Engine:
        async def start_runs(self, starts: list[RunStart]) -> list[RunRecord | Exception]:
            calls.append([s.run_id for s in starts])
            await asyncio.sleep(0.01)
            return [ValueError("no") if s.run_id == "bad" else record(s.run_id) for s in starts]

    coalescer = StartCoalescer(Engine())  # type: ignore[arg-type]

    async def start(run_id: str) -> str:
        record = await coalescer.start(RunStart(agent="a", input="x", run_id=run_id))
        return record.id

    first = [asyncio.create_task(start(f"r{n}")) for n in range(5)]
    await asyncio.sleep(0.001)  # the first burst is out; these wait for the next call
    second = [asyncio.create_task(start(n)) for n in ("s1", "bad")]
    results = await asyncio.gather(*first, *second, return_exceptions=True)
    assert calls == [[f"r{n}" for n in range(5)], ["s1", "bad"]]
    assert results[:6] == [f"r{n}" for n in range(5)] + ["s1"]
    assert isinstance(results[6], ValueError)

    # a lone start is made at once, alone
    assert await start("lone") == "lone" and calls[-1] == ["lone"]


async def test_a_cancelled_consumer_leaves_no_start_waiting() -> None:
    from ascent.events._coalesce import StartCoalescer

    entered = asyncio.Event()

    class Engine:
        async def start_runs(self, starts: list[RunStart]) -> list[RunRecord | Exception]:
            entered.set()
            await asyncio.sleep(60)
            raise AssertionError("not reached")

    coalescer = StartCoalescer(Engine())  # type: ignore[arg-type]
    waiting = asyncio.create_task(coalescer.start(RunStart(agent="a", input="x", run_id="r")))
    await entered.wait()
    later = asyncio.create_task(coalescer.start(RunStart(agent="a", input="x", run_id="q")))
    await asyncio.sleep(0)
    flusher = coalescer._flusher
    assert flusher is not None
    flusher.cancel()
    for task in (waiting, later):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_a_replica_with_no_workers_queues_runs_that_a_worker_replica_runs(
    sqlite_url: str,
) -> None:
    starts = [RunStart(agent="noter", input=f"o{n}", run_id=f"q{n}") for n in range(3)]
    async with engine_maker(sqlite_url, worker_concurrency=0) as make:
        intake = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 5))
        answers = await intake.start_runs(starts[:2])
        answers.append(await intake.start_run("noter", "o2", run_id="q2"))
        assert all(isinstance(a, RunRecord) and a.status == "queued" for a in answers)
        await asyncio.sleep(0.5)  # the queue polled many times: nobody here takes them
        assert [(await intake.get_run(s.run_id)).status for s in starts] == ["queued"] * 3
    async with engine_maker(sqlite_url, worker_concurrency=2) as make:
        worker = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 5))
        done = await wait_done(worker, [s.run_id for s in starts])
        assert [r.output for r in done] == ["Noted."] * 3


async def test_a_postgresql_burst_queues_each_run_as_dbos_client_would(postgres_url: str) -> None:
    """On PostgreSQL a burst's queue entries are written by one call of DBOS's
    ``enqueue_workflow`` function: each row reads as the one DBOS's client writes
    (status, workflow, queue, version, serialization, the decoded arguments), and
    a worker replica runs them (string and item inputs, both durabilities)."""
    from sqlalchemy import text

    from ascent.durable._intake import plan_burst
    from ascent.durable._store import RunStore
    from ascent.durable.engine import RUN_QUEUE
    from ascent.storage import write_transaction

    items = [{"role": "user", "content": "an order, as items"}]
    starts = [
        RunStart(agent="noter", input="o1", run_id="b1"),
        RunStart(agent="noter", input=items, run_id="b2", tenant="acme"),
    ]
    async with engine_maker(postgres_url, worker_concurrency=0) as make:
        intake = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 5))
        answers = await intake.start_runs(starts)
        assert [a.id for a in answers if isinstance(a, RunRecord)] == ["b1", "b2"]
        # the same runs under other ids, through DBOS's client, for comparison
        store = RunStore(postgres_url)
        writer = RunQueueWriter(
            store, system_engine=store.engine, queue=RUN_QUEUE, app_version=intake.app_version
        )
        _, batch = plan_burst(
            [RunStart(agent=s.agent, input=s.input, run_id=f"c{s.run_id}") for s in starts],
            agents=intake.agents,
            durability="steps",
            trace_id=lambda _id: None,
        )
        with write_transaction(store.engine) as conn:
            for _, run in batch:
                writer._enqueue(conn, run)
        writer.close()
        with store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.workflow_uuid, s.status, s.name, s.queue_name,"
                    " s.application_version, s.serialization, s.priority, i.inputs"
                    " FROM dbos.workflow_status s JOIN dbos.workflow_input i"
                    " USING (workflow_uuid) ORDER BY s.workflow_uuid"
                )
            ).all()
        found = {row[0]: (*row[1:7], json.loads(row[7])) for row in rows}
        for start in starts:
            burst, client = found[start.run_id], found[f"c{start.run_id}"]
            assert burst[:6] == client[:6] == (
                "ENQUEUED", "ascent.durable.run", RUN_QUEUE, intake.app_version,
                "portable_json", 0,
            )  # fmt: skip
            args = burst[6]["positionalArgs"]
            assert args == [start.run_id, *client[6]["positionalArgs"][1:]]
            assert burst[6]["namedArgs"] == client[6]["namedArgs"] == {}
        assert found["b2"][6]["positionalArgs"][2][0]["content"] == "an order, as items"
    async with engine_maker(postgres_url, worker_concurrency=2) as make:
        worker = await make(agents=[noter()], model=ScriptedModel(["Noted."] * 6))
        done = await wait_done(worker, ["b1"]) + await wait_done(worker, ["b2"], tenant="acme")
        assert [r.output for r in done] == ["Noted."] * 2
