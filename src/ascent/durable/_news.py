"""News of durable runs: how waits and event streams learn that a run moved on.

A run that executes in this process tells this process's waiters what it
writes, at once, and hands them the record it wrote (no read back). News from
other processes (another replica's run, a cancellation) comes by PostgreSQL
``NOTIFY`` while this process listens (``_listen.py``: :meth:`RunNews.heard`);
otherwise (SQLite, or the listening connection is down) it is found by polling
the database, less and less often while nothing happens, so many idle waiters
cost the database little. A wait registers before it reads the database, so
news that comes during the read is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

from ..errors import RunNotFound
from ._store import RunStore
from .records import TERMINAL_STATUSES, RunEvent, RunRecord

__all__ = ["STOP_FOLLOWING", "RunNews"]

# A wait or a stream ends when the run is over or waits for a person.
STOP_FOLLOWING = TERMINAL_STATUSES | {"awaiting_approval"}
_MAX_POLL_INTERVAL = 1.0
# A run that runs in this process tells its waits and streams what it writes; they
# read the database only for what other processes do (a cancellation): less often.
_LOCAL_POLL_INTERVAL = 1.0
_LOCAL_MAX_POLL_INTERVAL = 10.0
# While this process hears other processes' news, the database is read only as a
# safety net (and at once when the listening connection drops or comes back).
_LISTENING_POLL_INTERVAL = 10.0


class RunNews:
    """This process's waits for news of runs, and the runs it executes itself."""

    def __init__(self, store: RunStore, *, poll_interval: float) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._local: dict[str, _LocalRun] = {}  # runs started here that run here, until they end
        self._waiters: dict[str, set[_Waiter]] = {}  # run id -> this process's waits
        self._reads: dict[_ReadKey, asyncio.Future[_Log]] = {}  # reads in flight (see _read)
        self.listening = False  # other processes' news comes by NOTIFY (see _listen.py)

    # ------------------------------------------------------------ reading runs

    async def get_run(self, run_id: str, *, tenant: str | None) -> RunRecord:
        """The run's record; :class:`RunNotFound` if there is none for ``tenant``."""
        record = await self.store.call(self.store.get_run, run_id)
        if record is None or record.tenant != tenant:
            raise RunNotFound(run_id)
        return record

    # ----------------------------------------------------- runs executed here

    def track(self, run_id: str, tenant: str | None) -> None:
        """A run started here will execute here: its waiters need not poll."""
        with self._lock:
            self._local[run_id] = _LocalRun(tenant)

    def untrack(self, run_id: str) -> None:
        with self._lock:
            self._local.pop(run_id, None)

    def untrack_all(self) -> None:
        """This process stops: runs that never began here are no longer its own."""
        with self._lock:
            self._local.clear()

    def notify(self, run_id: str, *, status: bool = False, record: RunRecord | None = None) -> None:
        """Wake the streams of this process that follow ``run_id`` (and its waits too,
        when its ``status`` changed), handing them the ``record`` just written."""
        with self._lock:
            waiters = list(self._waiters.get(run_id, ()))
            local = self._local.get(run_id)
            if local is not None and record is not None:
                local.record = record
        for waiter in waiters:
            if waiter.status_only and not status:
                continue
            if record is not None:
                waiter.record = record
            with contextlib.suppress(RuntimeError):  # RuntimeError: that loop is closed
                waiter.loop.call_soon_threadsafe(waiter.event.set)

    def heard(self, run_id: str, *, status: bool) -> None:
        """News of ``run_id`` from the database (any process wrote it): new events, or
        with ``status`` a new status. The events of a run that runs here woke its
        streams when they were written; only a change of its status may come from
        elsewhere (a cancellation, an approval on another replica)."""
        if status or run_id not in self._local:
            self.notify(run_id, status=status)

    def wake_all(self) -> None:
        """Every wait of this process looks at the database now (news may have been
        missed: the listening connection dropped or came back)."""
        with self._lock:
            waiters = [waiter for entries in self._waiters.values() for waiter in entries]
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):
                waiter.loop.call_soon_threadsafe(waiter.event.set)

    # ------------------------------------------------------------------ waiting

    async def wait_run(
        self, run_id: str, *, tenant: str | None, timeout: float | None
    ) -> RunRecord:
        """Wait until the run is over or waits for approval; after ``timeout``
        seconds, return the record as it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self._first_pause(run_id)
        # A run this process runs hands its waits its record when it ends: no read first.
        local = self._local_news(run_id, tenant) if timeout is None or timeout > 0 else None
        if isinstance(local, RunRecord):
            return local
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if local is None:
                local = self._register(run_id, status_only=True)  # before the read
                try:
                    record = await self.get_run(run_id, tenant=tenant)
                except BaseException:
                    self._unregister(run_id, local)
                    raise
                if record.status in STOP_FOLLOWING or (left is not None and left <= 0):
                    self._unregister(run_id, local)
                    return record
            waiter = await self._wait(
                run_id,
                pause if left is None else max(0.0, min(left, pause)),
                status_only=True,
                waiter=local,
            )
            local = None
            news = waiter.record if waiter is not None else None
            if news is not None and news.status in STOP_FOLLOWING and news.tenant == tenant:
                return news  # this process wrote it just now: no need to read it back
            expired = deadline is not None and time.monotonic() >= deadline
            if waiter is None and pause < _LOCAL_MAX_POLL_INTERVAL and not expired:
                # No news of a run still running here is no news: the engine interrupts
                # it if another process cancels it, and its end wakes us. Read only now
                # and then.
                local = self._local_news(run_id, tenant)
                if isinstance(local, RunRecord):
                    return local
            pause = self._next_pause(run_id, pause, woken=waiter is not None)

    async def follow(
        self, run_id: str, *, after: int, tenant: str | None, follow: bool
    ) -> AsyncIterator[RunEvent]:
        """The run's events with ``seq > after``; with ``follow``, then the new ones
        as they come, until the run is over or waits for approval."""
        await self.get_run(run_id, tenant=tenant)
        last = after
        pause = self._first_pause(run_id)
        while True:
            waiter = self._register(run_id, status_only=False) if follow else None
            try:
                record, batch = await self._read(run_id, last)
                for event in batch:
                    yield event
                    last = event.seq
                if batch:
                    continue  # there may be more already: read again before waiting
                if waiter is None or record is None or record.status in STOP_FOLLOWING:
                    return
                woken = await self._wait(run_id, pause, waiter=waiter)
            finally:
                if waiter is not None:
                    self._unregister(run_id, waiter)
            pause = self._next_pause(run_id, pause, woken=woken is not None)

    async def wait_for_news(self, run_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for this process to report a change of the
        run's status; False when none came (the caller looks at the database)."""
        return await self._wait(run_id, timeout, status_only=True) is not None

    # ---------------------------------------------------------------- internals

    def _first_pause(self, run_id: str) -> float:
        if run_id in self._local:
            return max(self.poll_interval, _LOCAL_POLL_INTERVAL)
        if self.listening:
            return max(self.poll_interval, _LISTENING_POLL_INTERVAL)
        return self.poll_interval

    def _next_pause(self, run_id: str, pause: float, *, woken: bool) -> float:
        """How long the next wait for news lasts: this process's own runs wake their
        waiters at once; the database is polled for news from elsewhere, less and
        less often while nothing happens (up to once a second, every ten seconds
        for the runs of this process or while other processes' news is heard)."""
        if woken:
            return self._first_pause(run_id)
        if run_id in self._local:
            most = _LOCAL_MAX_POLL_INTERVAL
        else:
            most = _LISTENING_POLL_INTERVAL if self.listening else _MAX_POLL_INTERVAL
        return min(pause * 2, max(self.poll_interval, most))

    def _local_news(self, run_id: str, tenant: str | None) -> RunRecord | _Waiter | None:
        """For a running run of ``tenant`` that this process runs: its record if it has
        ended already, else a waiter for its status, registered in the same breath
        so no news slips between. None: the database has to be asked."""
        with self._lock:
            local = self._local.get(run_id)
            if local is None or local.tenant != tenant:
                return None
            if local.record is not None:
                if local.record.done:  # an end is final: any later read would say the same
                    return local.record
                if local.record.status in STOP_FOLLOWING:
                    return None  # paused: another replica may have resumed it since
            waiter = _Waiter(asyncio.get_running_loop(), True)
            self._waiters.setdefault(run_id, set()).add(waiter)
            return waiter

    async def _wait(
        self,
        run_id: str,
        timeout: float,
        *,
        status_only: bool = False,
        waiter: _Waiter | None = None,
    ) -> _Waiter | None:
        """Wait up to ``timeout`` for news of the run (with ``waiter`` if one is
        registered already): the woken waiter, or None."""
        entry = waiter if waiter is not None else self._register(run_id, status_only=status_only)
        try:
            # a timeout scope, not wait_for: no task of its own per wait
            async with asyncio.timeout(timeout):
                await entry.event.wait()
            return entry
        except TimeoutError:
            return None
        finally:
            self._unregister(run_id, entry)

    async def _read(self, run_id: str, after: int) -> _Log:
        """The run's record and its events after ``after``; streams of this process
        at the same point of the same run share one read (woken by one event, ten
        streams make one query, not ten). Sharing is safe: a stream registers its
        waiter before it reads, so what a shared read misses wakes it again."""
        loop = asyncio.get_running_loop()
        key = (loop, run_id, after)
        future = self._reads.get(key)
        if future is None:
            future = loop.create_task(
                self.store.call(self.store.read_run_and_events, run_id, after=after)
            )
            self._reads[key] = future
            future.add_done_callback(lambda done: self._read_done(key, done))
        return await asyncio.shield(future)  # one stream's cancellation spares the others

    def _read_done(self, key: _ReadKey, done: asyncio.Future[_Log]) -> None:
        self._reads.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: its streams may all have gone meanwhile

    def _register(self, run_id: str, *, status_only: bool) -> _Waiter:
        entry = _Waiter(asyncio.get_running_loop(), status_only)
        with self._lock:
            self._waiters.setdefault(run_id, set()).add(entry)
        return entry

    def _unregister(self, run_id: str, entry: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(run_id)
            if waiters is not None:
                waiters.discard(entry)
                if not waiters:
                    del self._waiters[run_id]


# A read of a run's log: (the loop reading, run id, after), and what it returns.
_ReadKey = tuple[asyncio.AbstractEventLoop, str, int]
_Log = tuple[RunRecord | None, list[RunEvent]]


class _LocalRun:
    """A run started and run by this process: whose it is, and its latest record
    as written here (what its waits return without reading it back)."""

    __slots__ = ("record", "tenant")

    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.record: RunRecord | None = None


class _Waiter:
    """One wait of this process for news of a run (see :meth:`RunNews.notify`)."""

    __slots__ = ("event", "loop", "record", "status_only")

    def __init__(self, loop: asyncio.AbstractEventLoop, status_only: bool) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.status_only = status_only
        self.record: RunRecord | None = None  # the run as this process just wrote it
