"""Run starts of messages handled at the same time, made with one engine call.

A broker delivers a burst of messages to handlers that run side by side
(RabbitMQ's prefetched deliveries, the messages of one NATS fetch). Each
handler asks for its run here and waits; the first one's call waits one turn
of the event loop, so that the others of the burst join it, then asks the
engine for all of them at once (:meth:`DurableEngine.start_runs`: a
transaction or two for the burst). While that call is out, later arrivals
gather for the next one. A lone message waits for nothing: no timer, so its
latency is that of a single start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from ..durable import RunRecord, RunStart

__all__ = ["StartCoalescer"]


class Starter(Protocol):
    """An engine that starts a burst of runs (``EventEngine`` has this)."""

    async def start_runs(self, starts: Sequence[RunStart]) -> list[RunRecord | Exception]: ...


class StartCoalescer:
    """Gathers concurrent :meth:`start` calls into the engine's ``start_runs``
    calls of at most ``max_batch`` runs."""

    def __init__(self, engine: Starter, *, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[tuple[RunStart, asyncio.Future[RunRecord]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def start(self, start: RunStart) -> RunRecord:
        """The run ``start`` asks for, queued (its record), or what starting it raised."""
        future: asyncio.Future[RunRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((start, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[RunStart, asyncio.Future[RunRecord]]] = []
        try:
            await asyncio.sleep(0)  # the rest of this burst's handlers add theirs
            while self._waiting:
                batch = [pair for pair in self._waiting[: self.max_batch] if not pair[1].done()]
                del self._waiting[: self.max_batch]
                if not batch:
                    continue
                try:
                    results: list[RunRecord | Exception] = await self.engine.start_runs(
                        [start for start, _ in batch]
                    )
                except Exception as exc:  # each handler decides what to do about it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its handler was cancelled meanwhile
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        except BaseException:  # cancelled (the consumer stops): nobody is left waiting
            for _, future in (*batch, *self._waiting):
                if not future.done():
                    future.cancel()
            self._waiting.clear()
            raise
        finally:
            self._flusher = None
