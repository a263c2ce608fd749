"""News of runs over PostgreSQL LISTEN/NOTIFY: what the triggers announce, and how a
process's waits and streams hear it, lose it and get it back.

Waits here poll the database every 30 seconds, so a wait that ends within a few
seconds was woken by a notification, not by a poll.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest

from ascent.durable import RunRecord
from ascent.durable._listen import NewsListener, listen_url
from ascent.durable._news import RunNews
from ascent.durable._schema import NEWS_CHANNEL
from ascent.durable._store import RunStore

SLOW_POLL = 30.0
WITHIN = 5.0  # far below SLOW_POLL: only a notification can be this quick


def new_run(store: RunStore, *, tenant: str | None = None) -> str:
    run_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    record = RunRecord(
        id=run_id, agent="a", tenant=tenant, status="running", created_at=now, updated_at=now
    )
    assert store.insert_run(record, events=[("run_started", {}, None)])
    return run_id


def later(seconds: float, action: object) -> threading.Timer:
    """Run ``action`` in another thread after ``seconds``, as another replica would write."""
    assert callable(action)
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


@pytest.fixture
async def heard(postgres_url: str) -> AsyncIterator[tuple[RunStore, RunNews, NewsListener]]:
    store = RunStore(postgres_url)
    news = RunNews(store, poll_interval=SLOW_POLL)
    conninfo = listen_url(postgres_url)
    assert conninfo is not None
    listener = NewsListener(conninfo, news)
    await listener.start()
    assert news.listening
    yield store, news, listener
    await listener.stop()
    assert not news.listening


def test_only_postgresql_is_listened_to(tmp_path: object) -> None:
    assert listen_url(f"sqlite:///{tmp_path}/x.db") is None
    address = listen_url("postgresql+psycopg://u:secret@127.0.0.1:5432/db?sslmode=disable")
    assert address == "postgresql://u:secret@127.0.0.1:5432/db?sslmode=disable"


def test_triggers_announce_events_and_status_changes_on_commit(postgres_url: str) -> None:
    store = RunStore(postgres_url)
    conninfo = listen_url(postgres_url)
    assert conninfo is not None
    with psycopg.connect(conninfo, autocommit=True) as listening:
        listening.execute(f"LISTEN {NEWS_CHANNEL}")
        run_id = new_run(store)
        store.append_events(run_id, [("text_delta", {"i": i}, 1) for i in range(3)])
        store.update_run(run_id, usage={"requests": 1})  # not a change of status
        store.update_run(run_id, status="completed")
        store.update_run(run_id, status="completed", only_active=False)  # the same status
        payloads = [n.payload for n in listening.notifies(timeout=1.0)]
    # one notification per transaction and kind: the insert's event, the batch, the status
    assert payloads == [f"e:{run_id}", f"e:{run_id}", f"s:{run_id}"]


def test_a_rolled_back_write_announces_nothing(postgres_url: str) -> None:
    store = RunStore(postgres_url)
    conninfo = listen_url(postgres_url)
    assert conninfo is not None
    run_id = new_run(store)
    with psycopg.connect(conninfo, autocommit=True) as listening:
        listening.execute(f"LISTEN {NEWS_CHANNEL}")
        with psycopg.connect(conninfo) as writer:
            writer.execute(
                "INSERT INTO ascent_run_events (run_id, seq, type, data, created_at) "
                "VALUES (%s, 99, 'x', '{}', 0)",
                (run_id,),
            )
            writer.rollback()
        assert [n.payload for n in listening.notifies(timeout=0.5)] == []


async def test_a_stream_hears_events_written_elsewhere_without_polling(
    heard: tuple[RunStore, RunNews, NewsListener],
) -> None:
    store, news, _ = heard
    run_id = new_run(store)
    stream = news.follow(run_id, after=0, tenant=None, follow=True)
    first = await anext(stream)
    assert first.type == "run_started"
    timers = [
        later(0.3, lambda: store.append_events(run_id, [("text_delta", {"t": "hi"}, 1)])),
        later(0.6, lambda: store.update_run(run_id, status="completed")),
    ]
    started = time.monotonic()
    rest = [event.type async for event in stream]  # ends when the run is over
    assert rest == ["text_delta"]
    assert time.monotonic() - started < WITHIN
    for timer in timers:
        timer.join()


async def test_a_wait_hears_a_status_change_made_elsewhere(
    heard: tuple[RunStore, RunNews, NewsListener],
) -> None:
    store, news, _ = heard
    run_id = new_run(store, tenant="acme")
    timer = later(0.3, lambda: store.update_run(run_id, status="cancelled"))
    started = time.monotonic()
    record = await news.wait_run(run_id, tenant="acme", timeout=None)
    assert record.status == "cancelled"
    assert time.monotonic() - started < WITHIN
    timer.join()


async def test_a_lost_connection_falls_back_to_polling_and_reconnects(
    heard: tuple[RunStore, RunNews, NewsListener], postgres_url: str
) -> None:
    store, news, _ = heard
    conninfo = listen_url(postgres_url)
    assert conninfo is not None
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE %s AND pid <> pg_backend_pid()",
            (f"%LISTEN {NEWS_CHANNEL}%",),
        )
    # the listener notices, polls meanwhile, and is back within its retry pause
    deadline = time.monotonic() + WITHIN
    while news.listening and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    while not news.listening and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert news.listening, "the listener did not reconnect"

    run_id = new_run(store, tenant="acme")
    timer = later(0.3, lambda: store.update_run(run_id, status="failed"))
    started = time.monotonic()
    record = await news.wait_run(run_id, tenant="acme", timeout=None)
    assert record.status == "failed"
    assert time.monotonic() - started < WITHIN
    timer.join()


async def test_without_a_listener_waits_poll(postgres_url: str) -> None:
    store = RunStore(postgres_url)
    news = RunNews(store, poll_interval=0.05)  # nobody listens: polling finds the news
    run_id = new_run(store)
    timer = later(0.2, lambda: store.update_run(run_id, status="completed"))
    record = await news.wait_run(run_id, tenant=None, timeout=WITHIN)
    assert record.status == "completed"
    timer.join()


async def test_without_the_triggers_nobody_listens_and_waits_poll(postgres_url: str) -> None:
    store = RunStore(postgres_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER ascent_run_events_news ON ascent_run_events")
    news = RunNews(store, poll_interval=0.05)
    conninfo = listen_url(postgres_url)
    assert conninfo is not None
    listener = NewsListener(conninfo, news)
    await listener.start()
    try:
        assert not news.listening  # nothing would be heard: long waits would hang
        run_id = new_run(store)
        timer = later(0.2, lambda: store.update_run(run_id, status="completed"))
        record = await news.wait_run(run_id, tenant=None, timeout=WITHIN)
        assert record.status == "completed"
        timer.join()
    finally:
        await listener.stop()


def test_a_role_that_may_not_install_the_triggers_still_starts(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    RunStore(postgres_url)  # the owner made the tables and their triggers
    with psycopg.connect(listen_url(postgres_url) or "", autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS news_guest")
        admin.execute("CREATE ROLE news_guest LOGIN")
        admin.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO news_guest")
    guest = postgres_url.replace("://postgres@", "://news_guest@", 1)
    assert guest != postgres_url
    with caplog.at_level("WARNING", logger="ascent.durable"):
        store = RunStore(guest)
    assert "cannot install the triggers" in caplog.text
    assert store.get_run("nothing") is None  # the store works
