"""``RunBook``: the runs' records and event logs in the project database, for any engine.

:class:`~ascent.durable.DurableEngine` keeps a run's record (its status,
output, pending approvals, usage, tenant) and its numbered event log in the
project database, and the service reads them there: waits, listings, usage,
and the SSE streams that follow a log. An engine that executes runs
elsewhere (on Temporal) keeps the same records through this class, so the
service, its tenants and its clients see no difference. Reads are the
engine's own (the same waits and streams); writes are what a run's executor
reports: created, paused, resumed, ended.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..errors import RunConflict, UserError
from ..run.commands import ApprovalDecision
from ._inputs import input_items
from ._listen import NewsListener, listen_url
from ._news import RunNews
from ._store import RunPage, RunStore, UsageSum
from .records import RunEvent, RunRecord

__all__ = ["LogEntry", "RunBook", "as_decision", "input_items", "wait_for_session_turn"]

# (type, data, step) of one event to append; step is None outside durable steps
LogEntry = tuple[str, dict[str, Any], int | None]


class RunBook:
    """The records and event logs of runs on ``database_url``, with waits and streams.

    ``poll_interval`` is how often waits and streams look at the database for
    news from other processes when they cannot hear it (on SQLite); on
    PostgreSQL they hear it by ``LISTEN`` unless ``listen`` is False (a writer
    that never waits).
    """

    def __init__(
        self, database_url: str, *, poll_interval: float = 0.1, listen: bool = True
    ) -> None:
        self.database_url = database_url
        self.poll_interval = poll_interval
        self.listen = listen
        self._store: RunStore | None = None
        self._news: RunNews | None = None
        self._listener: NewsListener | None = None

    @classmethod
    def sharing(cls, store: RunStore, news: RunNews) -> RunBook:
        """A book over an engine's own store and news (started already): the
        :class:`DurableEngine` decides and cancels through it too."""
        book = cls(store.url, poll_interval=news.poll_interval, listen=False)
        book._store, book._news = store, news
        return book

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the database (creating the tables), and listen for news on PostgreSQL."""
        if self._news is not None:
            return
        if self._store is None:
            self._store = await asyncio.to_thread(RunStore, self.database_url)
        news = RunNews(self._store, poll_interval=self.poll_interval)
        conninfo = listen_url(self.database_url) if self.listen else None
        if conninfo is not None:
            listener = NewsListener(conninfo, news)
            await listener.start()
            self._listener = listener
        self._news = news

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        self._news = None

    @property
    def store(self) -> RunStore:
        """The durable tables (what the service's trace routes read)."""
        if self._store is None:
            raise UserError("the RunBook is not started: call `await book.start()`")
        return self._store

    def _started(self) -> RunNews:
        if self._news is None:
            raise UserError("the RunBook is not started: call `await book.start()`")
        return self._news

    # --------------------------------------------------------------------- reads

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run's record; :class:`RunNotFound` if there is none for ``tenant``."""
        return await self._started().get_run(run_id, tenant=tenant)

    async def find(self, run_id: str) -> RunRecord | None:
        """The run's record whatever its tenant (None if there is none): for writers."""
        return await self.store.call(self.store.get_run, run_id)

    async def list_runs(
        self, *, tenant: str | None = None, schedule: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The latest runs of ``tenant`` (of one schedule, if given), newest first."""
        return await self.store.call(
            self.store.list_runs, tenant=tenant, schedule=schedule, limit=limit
        )

    async def page_runs(self, *, tenant: str | None = None, **filters: Any) -> RunPage:
        """A page of ``tenant``'s runs, newest first, and the ``before`` of the next page
        (None after the last); ``filters`` as for :meth:`RunStore.page_runs`."""
        return await self.store.call(functools.partial(self.store.page_runs, **filters), tenant)

    async def usage(self, *, tenant: str | None = None, since: float | None = None) -> UsageSum:
        """The summed usage of ``tenant``'s runs created since ``since``, and their count."""
        return await self.store.call(self.store.sum_usage, tenant, since)

    async def wait_run(
        self, run_id: str, *, tenant: str | None = None, timeout: float | None = None
    ) -> RunRecord:
        """Wait until the run is over or waits for approval (at most ``timeout`` seconds)."""
        return await self._started().wait_run(run_id, tenant=tenant, timeout=timeout)

    def events(
        self, run_id: str, *, after: int = 0, tenant: str | None = None, follow: bool = True
    ) -> AsyncIterator[RunEvent]:
        """The run's events with ``seq > after``; with ``follow``, the new ones as they
        come, until the run is over or waits for approval."""
        return self._started().follow(run_id, after=after, tenant=tenant, follow=follow)

    # -------------------------------------------------------------------- writes

    async def create(self, record: RunRecord, *, events: Sequence[LogEntry] = ()) -> bool:
        """Add ``record`` and its first ``events`` unless its id is taken; True if added."""
        added = await self.store.call(self.store.insert_run, record, events=events)
        return bool(added)

    async def update(
        self,
        run_id: str,
        *,
        events: Sequence[LogEntry] = (),
        only_status: str | None = None,
        **values: Any,
    ) -> RunRecord | None:
        """Set ``values`` on an active run (with ``only_status``: one in that status) and
        append ``events`` in one transaction; None when the run is over (or not in
        that status), so a late writer never overwrites a cancellation."""
        record = await self.store.call(
            functools.partial(
                self.store.update_run, run_id, events=events, only_status=only_status, **values
            )
        )
        if record is not None and self._news is not None:
            self._news.notify(run_id, status="status" in values, record=record)
        return record

    async def append(self, run_id: str, events: Sequence[LogEntry]) -> None:
        """Append ``events`` to the run's log, after whatever it holds."""
        await self.store.call(self.store.append_events, run_id, events)
        if self._news is not None:
            self._news.notify(run_id)

    async def take_turn(
        self, run_id: str, session_id: str, *, timeout: float | None = None
    ) -> bool:
        """Wait until the runs started before this one on its session have ended (see
        :func:`wait_for_session_turn`); False if ``timeout`` seconds passed first."""
        return await wait_for_session_turn(
            self.store, self._started(), run_id, session_id, timeout=timeout
        )

    # ----------------------------------------------------- decisions, cancels

    async def decide(
        self, run_id: str, decisions: Mapping[str, bool | str], *, tenant: str | None = None
    ) -> tuple[RunRecord, dict[str, ApprovalDecision]]:
        """Take decisions on calls the run waits for (True, False or a reason), as
        :meth:`DurableEngine.decide` does: one conditional write sets the run
        running and logs ``run_resumed``, so of two decisions racing one wins.
        Returns the record written and the decisions, for the engine to deliver.
        """
        taken = {call_id: as_decision(value) for call_id, value in decisions.items()}
        record = await self.get_run(run_id, tenant=tenant)
        if record.status != "awaiting_approval":
            raise RunConflict(f"run {run_id!r} is {record.status}, not awaiting approval")
        pending = {request.call_id: request for request in record.pending_approvals}
        unknown = sorted(call_id for call_id in decisions if call_id not in pending)
        if unknown or not decisions:
            raise RunConflict(
                f"run {run_id!r} has no pending approval for call id(s) "
                f"{', '.join(unknown) or '(none given)'}; pending: {', '.join(pending) or 'none'}"
            )
        remaining = [r for call_id, r in pending.items() if call_id not in decisions]
        message = {k: v.model_dump(mode="json") for k, v in taken.items()}
        updated = await self.update(
            run_id,
            status="running",
            pending=remaining,
            only_status="awaiting_approval",
            events=[("run_resumed", {"decisions": message}, None)],
        )
        if updated is None:
            latest = await self.get_run(run_id, tenant=tenant)
            raise RunConflict(
                f"run {run_id!r} is {latest.status}, not awaiting approval "
                "(another decision or a cancellation came first)"
            )
        return updated, taken

    async def cancel(self, run_id: str, *, tenant: str | None = None) -> tuple[RunRecord, bool]:
        """Record the run as cancelled (logging ``run_cancelled``); the record, and
        whether this call cancelled it (False: it was cancelled already). A run that
        completed or failed raises :class:`RunConflict`."""
        record = await self.get_run(run_id, tenant=tenant)
        if record.status == "cancelled":
            return record, False
        updated = None
        if not record.done:
            updated = await self.update(
                run_id,
                status="cancelled",
                pending=[],
                events=[("run_cancelled", {"run_id": run_id}, None)],
            )
        if updated is None:  # over already, or it ended meanwhile
            latest = await self.get_run(run_id, tenant=tenant)
            if latest.status == "cancelled":
                return latest, False
            raise RunConflict(f"run {run_id!r} cannot be cancelled: it is {latest.status} already")
        return updated, True


async def wait_for_session_turn(
    store: RunStore,
    news: RunNews,
    run_id: str,
    session_id: str,
    *,
    timeout: float | None = None,
) -> bool:
    """Wait until every run started before ``run_id`` on its session has ended:
    True then, False if ``timeout`` seconds passed first (the run still waits).

    A run reads its session's history when it begins and adds its items when it
    pauses and ends: two runs at once on one session would each miss the other's
    turn. While it waits the run is ``queued``; when its turn comes, ``running``
    again. Every engine's runs on a session take turns through this one wait.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    pause = news.poll_interval
    queued = False
    while True:
        blocking = await store.call(store.run_before_on_session, run_id, session_id)
        if blocking is None:
            break
        if not queued:
            queued = True
            record = await store.call(
                store.update_run, run_id, status="queued", only_status="running"
            )
            news.notify(run_id, status=True, record=record)
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return False
            pause = min(pause, left)
        if not await news.wait_for_news(blocking, pause):
            pause = min(pause * 2, 1.0)
    if queued or timeout is not None:  # queued here, or maybe by an earlier wait that timed out
        record = await store.call(store.update_run, run_id, status="running", only_status="queued")
        if record is not None:
            news.notify(run_id, status=True, record=record)
    return True


def as_decision(value: bool | str) -> ApprovalDecision:
    """A decision as the API takes it: True approves, False rejects, a string
    rejects with that reason."""
    if value is True:
        return ApprovalDecision(approved=True)
    if value is False:
        return ApprovalDecision(approved=False)
    if isinstance(value, str):
        return ApprovalDecision(approved=False, reason=value)
    raise UserError(f"a decision is True, False or a reason string, not {value!r}")
