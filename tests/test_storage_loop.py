"""Blocking database code run from the event loop (``storage.LoopEngine``): on
PostgreSQL in the loop's own thread over its async connections, elsewhere in a
worker thread; the same rows, errors, rollbacks and after-commit calls either way."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ascent.durable import RunRecord
from ascent.durable._store import RunStore
from ascent.durable.outbox import Outbox
from ascent.storage import LoopEngine, after_commit, normalize_url, write_transaction
from ascent.testing.postgres import PostgresServer

metadata = MetaData()
items = Table(
    "loop_items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return normalize_url(postgres_server.create_database(f"loop_{uuid.uuid4().hex[:8]}"))


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'loop.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(items.c.id).order_by(items.c.id)).scalars())


async def test_code_runs_on_the_loop_on_postgresql_and_in_a_thread_elsewhere(engine: Engine):
    on_loop = LoopEngine(engine, pool_size=2)
    loop_thread = threading.get_ident()
    committed: list[str] = []

    def write(key: str) -> tuple[int, bool]:
        current = on_loop.current()
        with write_transaction(current, driver=True) as conn:
            conn.execute(items.insert(), {"id": key, "count": 1})
            after_commit(conn, lambda: committed.append(key))
        return threading.get_ident(), current is on_loop.engine

    try:
        thread, blocking = await on_loop.call(write, "a")
        postgresql = engine.dialect.name == "postgresql"
        assert (thread == loop_thread) is postgresql
        assert blocking is not postgresql  # inside: the loop's own engine
        assert on_loop.current() is on_loop.engine  # outside: the blocking one
        # more calls at once than the loop's pool has connections: they wait their turn
        keys = [f"k{number:02d}" for number in range(12)]
        await asyncio.gather(*(on_loop.call(write, key) for key in keys))
        assert _ids(engine) == ["a", *keys]
        assert sorted(committed) == ["a", *keys]
    finally:
        await on_loop.aclose()


async def test_errors_roll_back_and_come_out_as_sqlalchemys(engine: Engine):
    on_loop = LoopEngine(engine)

    def write_twice() -> None:
        with write_transaction(on_loop.current(), driver=True) as conn:
            conn.execute(items.insert(), {"id": "b", "count": 1})
            conn.execute(items.insert(), {"id": "b", "count": 2})

    def count() -> int:
        with on_loop.current().connect() as conn:
            return len(conn.execute(select(items.c.id)).all())

    try:
        with pytest.raises(IntegrityError):
            await on_loop.call(write_twice)
        assert await on_loop.call(count) == 0  # rolled back, and its connection still good
    finally:
        await on_loop.aclose()


def test_another_loop_gets_a_thread_until_the_first_closes_its_pool(postgres_url: str):
    url = postgres_url
    engine = create_engine(url)
    metadata.create_all(engine)
    on_loop = LoopEngine(engine)

    async def where() -> int:
        return await on_loop.call(threading.get_ident)

    async def first() -> None:
        assert await where() == threading.get_ident()
        other = await asyncio.to_thread(asyncio.run, where())
        assert other != threading.get_ident()  # that loop was not the pool's: a thread

    async def after_close() -> None:
        assert await where() == threading.get_ident()  # a new pool, for this loop
        await on_loop.aclose()

    try:
        asyncio.run(first())
        asyncio.run(on_loop.aclose())  # another loop: forgets the pool, closes nothing
        asyncio.run(after_close())
    finally:
        engine.dispose()


async def test_a_run_store_call_on_postgresql_wakes_the_outbox_listeners(postgres_url: str):
    store = RunStore(postgres_url)
    woken: list[int] = []
    stop = Outbox(postgres_url).on_write(lambda: woken.append(threading.get_ident()))
    now = datetime.now(UTC)
    record = RunRecord(id="loop-1", agent="Echo", status="running", created_at=now, updated_at=now)
    try:
        assert await store.call(store.insert_run, record)
        assert woken == [threading.get_ident()]  # written from the loop's own thread
        assert not await store.call(store.insert_run, record)  # the id is taken
        assert woken == [threading.get_ident()]  # a rolled-back write wakes nobody
        got = await store.call(store.get_run, "loop-1")
        assert got is not None and got.status == "running"
    finally:
        stop()
        await store.on_loop.aclose()


async def test_a_cancelled_caller_does_not_cut_the_transaction(engine: Engine):
    """As with a worker thread: the call runs to its end, and the caller is cancelled."""
    on_loop = LoopEngine(engine)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def write() -> None:
        with write_transaction(on_loop.current(), driver=True) as conn:
            conn.execute(items.insert(), {"id": "first", "count": 1})
            loop.call_soon_threadsafe(started.set)
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_sleep(0.3)")  # cancelled in here
            conn.execute(items.insert(), {"id": "second", "count": 2})

    try:
        call = asyncio.ensure_future(on_loop.call(write))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(200):  # the write goes on: wait for its commit
            if len(_ids(engine)) == 2:
                break
            await asyncio.sleep(0.02)
        assert _ids(engine) == ["first", "second"]
    finally:
        await on_loop.aclose()


def test_a_loop_that_ended_without_closing_hands_the_pool_to_the_next(postgres_url: str):
    url = postgres_url
    engine = create_engine(url)
    on_loop = LoopEngine(engine)

    async def where() -> int:
        return await on_loop.call(threading.get_ident)

    try:
        assert asyncio.run(where()) == threading.get_ident()  # no aclose() at its end
        assert asyncio.run(where()) == threading.get_ident()  # on this loop, not a thread
        asyncio.run(on_loop.aclose())
    finally:
        engine.dispose()
