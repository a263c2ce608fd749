"""News from other replicas over PostgreSQL ``LISTEN``: one connection per process.

Triggers on the durable tables ``NOTIFY`` each new event and each change of a
run's status when the writing transaction commits (see ``_schema.py``); this
process listens on one connection of its own and wakes the waits and streams
that follow those runs (:meth:`RunNews.heard`). While the connection is down,
the waits fall back to polling the database; on reconnecting, every wait looks
at the database once, since news may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from ._schema import NEWS_CHANNEL, NEWS_TRIGGERS

if TYPE_CHECKING:
    import psycopg

    from ._news import RunNews

__all__ = ["NewsListener", "listen_url"]

logger = logging.getLogger("ascent.durable")

_RETRY_FIRST = 0.1
_RETRY_MOST = 5.0
# How long the connection may stay silent before a query checks it is alive.
_CHECK_AFTER = 10.0


def listen_url(database_url: str) -> str | None:
    """The libpq address of ``database_url`` for a listening connection, or None
    when the database is not PostgreSQL or psycopg 3 (the ``postgres`` extra) is
    missing: then waits poll."""
    import importlib.util

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or importlib.util.find_spec("psycopg") is None:
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class NewsListener:
    """Listens for runs' news on one connection and hands it to ``news``; reconnects
    (with a growing pause) when the connection is lost."""

    def __init__(self, conninfo: str, news: RunNews) -> None:
        self.conninfo = conninfo
        self.news = news
        self._task: asyncio.Task[None] | None = None
        self._tried = asyncio.Event()  # the first connection is up, or failed

    async def start(self, *, timeout: float = 5.0) -> None:
        """Start listening; waits up to ``timeout`` for the first try to connect (the
        engine starts either way: until it connects, waits poll)."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="ascent-run-news")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.news.listening = False

    async def _listen(self) -> None:
        import psycopg

        pause = _RETRY_FIRST
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with conn:
                    if not await _announced(conn):
                        logger.warning("runs' news is not announced here: waits poll")
                        return
                    await conn.execute(f"LISTEN {NEWS_CHANNEL}")
                    self.news.listening = True
                    self._tried.set()
                    self.news.wake_all()  # news may have come while nobody listened
                    pause = _RETRY_FIRST
                    await self._receive(conn)
            except (psycopg.Error, OSError) as exc:
                logger.warning("listening for runs' news: %s; polling meanwhile", exc)
            finally:
                if self.news.listening:
                    self.news.listening = False
                    self.news.wake_all()  # long waits shorten: they poll until we are back
                self._tried.set()
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RETRY_MOST)

    async def _receive(self, conn: psycopg.AsyncConnection[Any]) -> None:
        heard = self.news.heard
        while True:
            async for notice in conn.notifies(timeout=_CHECK_AFTER):
                kind, _, run_id = notice.payload.partition(":")
                heard(run_id, status=kind == "s")
            await conn.execute("SELECT 1")  # a silent connection may be a dead one


async def _announced(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the database has the triggers that announce runs' news (without them
    nothing would ever be heard, and waits must poll)."""
    cursor = await conn.execute(
        "SELECT count(DISTINCT tgname) FROM pg_trigger WHERE tgname = ANY(%s)",
        (list(NEWS_TRIGGERS),),
    )
    row = await cursor.fetchone()
    return row is not None and row[0] == len(NEWS_TRIGGERS)
