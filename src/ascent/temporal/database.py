"""The project database as a worker's event log and run records.

A service on Temporal (``ascent serve --engine temporal://...``) keeps runs'
records and event logs where a service on DBOS keeps them: in the project
database, through :class:`~ascent.durable.runbook.RunBook`. Its workers write
there with a :class:`DatabaseRunLog`: the events of each run (written behind
the run, in batches, and before each activity completes), and the run's
pauses and end, so the service's waits, listings and SSE streams see what
they see of a durable run.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from pydantic_core import to_jsonable_python

from ..durable.runbook import LogEntry, RunBook
from ..durable.tools import outbox_event
from ..items import RunUsage
from ..run.commands import ApprovalRequest
from ..run.events import ApprovalRequiredEvent, StreamEvent
from ..storage import database_url as default_database_url

__all__ = ["DatabaseRunLog"]

# Events are written 50 ms after the first one not written yet: one transaction a
# batch, and a streaming client still sees the run move.
_FLUSH_DELAY = 0.05


class DatabaseRunLog:
    """An :class:`~ascent.temporal.EventLog` and :class:`~ascent.temporal.RunRecords`
    on ``database_url`` (default: the project database): give it to the worker's
    :class:`~ascent.temporal.TemporalApp` as both ``events`` and ``records``.

    It is also the runs' :class:`~ascent.temporal.SessionTurns` (a service's runs
    on one session take turns) and :class:`~ascent.temporal.RunOutbox` (a tool's
    ``emit_event`` writes to the service's outbox), as on DBOS."""

    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url or default_database_url()
        self._book: RunBook | None = None
        self._opening = asyncio.Lock()
        self._buffers: defaultdict[str, list[LogEntry]] = defaultdict(list)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def _opened(self) -> RunBook:
        async with self._opening:
            if self._book is None:
                book = RunBook(self.database_url, listen=False)
                await book.start()
                self._book = book
            return self._book

    async def close(self) -> None:
        """Write what is buffered, and let go of the database."""
        for run_id in list(self._buffers):
            await self.flush(run_id)
        if self._book is not None:
            await self._book.stop()
            self._book = None

    # ------------------------------------------------------------------ events

    def append(self, run_id: str, event: StreamEvent) -> None:
        self._buffers[run_id].append((event.type, to_jsonable_python(event), None))
        if run_id not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[run_id] = loop.call_later(_FLUSH_DELAY, self._flush_soon, run_id)

    def _flush_soon(self, run_id: str) -> None:
        self._timers.pop(run_id, None)
        task = asyncio.get_running_loop().create_task(self.flush(run_id))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self, run_id: str) -> None:
        timer = self._timers.pop(run_id, None)
        if timer is not None:
            timer.cancel()
        async with self._locks[run_id]:  # batches of one run are written in order
            batch = self._buffers.pop(run_id, [])
            if batch:
                book = await self._opened()
                await book.append(run_id, batch)

    # ----------------------------------------------------------------- records

    async def paused(self, run_id: str, agent: str, requests: list[dict[str, Any]]) -> None:
        await self.flush(run_id)
        book = await self._opened()
        event = ApprovalRequiredEvent(
            agent=agent, requests=[ApprovalRequest.model_validate(r) for r in requests]
        )
        entry: LogEntry = ("approval_required", to_jsonable_python(event), None)
        updated = await book.update(
            run_id, status="awaiting_approval", pending=requests, events=[entry]
        )
        if updated is None and await book.find(run_id) is None:
            await book.append(run_id, [entry])  # a run no service keeps: its log only

    async def take_turn(self, run_id: str, session_id: str, *, timeout: float) -> bool:
        book = await self._opened()
        return await book.take_turn(run_id, session_id, timeout=timeout)

    async def emit_event(
        self, run_id: str, step: str, type: str, data: Any, *, topic: str, key: str | None
    ) -> str:
        book = await self._opened()
        return await outbox_event(book.store, run_id, step, type, data, topic=topic, key=key)

    async def ended(
        self,
        run_id: str,
        *,
        status: str,
        output: Any = None,
        error: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        await self.flush(run_id)
        book = await self._opened()
        usage = usage if usage is not None else RunUsage().model_dump(mode="json")
        if status == "completed":
            entry: LogEntry = ("run_completed", {"output": output, "usage": usage}, None)
            await book.update(
                run_id, status=status, output=output, usage=usage, pending=[], events=[entry]
            )
        else:
            entry = ("run_failed", {"error": error}, None)
            await book.update(
                run_id, status="failed", error=error, usage=usage, pending=[], events=[entry]
            )
        self._locks.pop(run_id, None)  # a long-lived worker keeps nothing of ended runs
