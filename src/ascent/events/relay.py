"""The outbox relay: publishes the events that committed changes wrote, then marks them.

It runs beside the durable engine, in each replica. Each pass claims a batch
of unpublished rows (a lease, so replicas do not publish the same rows),
publishes them in order and marks them published. An event is published at
least once: a replica that dies after publishing and before marking leaves
its claim to expire, and the rows are published again, with the same ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from ..durable.outbox import EVENT_SOURCE, Outbox, OutboxEntry
from .broker import Broker
from .cloudevent import CloudEvent

__all__ = ["OutboxRelay"]

logger = logging.getLogger("ascent.events")

_PRUNE_EVERY = 60.0


class OutboxRelay:
    """Publishes ``database_url``'s outbox to ``broker``.

    ``interval`` is how often an idle relay looks for new rows (written by other
    processes: a commit in this one wakes it at once; after a pass that found several
    (a busy database), it waits ``gather`` seconds for more first), ``batch`` how
    many it claims at once and ``lease`` how long (seconds) a claim keeps other
    relays off: longer than publishing a batch takes. Published events are kept
    ``retention`` seconds (None: for ever), then deleted.
    """

    def __init__(
        self,
        database_url: str,
        broker: Broker,
        *,
        name: str | None = None,
        source: str = EVENT_SOURCE,
        interval: float = 0.05,
        gather: float = 0.01,
        batch: int = 100,
        lease: float = 30.0,
        retention: float | None = 24 * 3600.0,
    ) -> None:
        self.database_url = database_url
        self.broker = broker
        self.name = name or f"relay-{uuid.uuid4().hex[:12]}"
        self.source = source
        self.interval = interval
        self.gather = gather
        self.batch = batch
        self.lease = lease
        self.retention = retention
        self.published = 0
        self._pruned_at = 0.0
        self._outbox: Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._unhear: Callable[[], None] | None = None
        self._wake = asyncio.Event()
        self._passing = asyncio.Lock()  # one pass at a time: a pass re-claims its own rows

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.database_url)
        return self._outbox

    async def start(self) -> None:
        if self._task is None:
            outbox = await asyncio.to_thread(lambda: self.outbox)
            loop = asyncio.get_running_loop()

            def committed() -> None:  # in the writing thread
                with contextlib.suppress(RuntimeError):  # the loop is closed
                    loop.call_soon_threadsafe(self._wake.set)

            self._unhear = outbox.on_write(committed)
            self._task = asyncio.create_task(self._run(), name=f"ascent-relay-{self.name}")

    async def stop(self) -> None:
        if self._unhear is not None:
            self._unhear()
            self._unhear = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Look for rows now (a change was just committed in this process)."""
        self._wake.set()

    async def publish_pending(self, *, look: bool = True) -> int:
        """One pass: claim, publish and mark a batch; returns how many were published.
        ``look=False``: rows are known to wait (skip the read that spares an idle
        relay its write)."""
        async with self._passing:
            return await self._pass(look)

    async def _pass(self, look: bool) -> int:
        outbox = self.outbox
        entries = await asyncio.to_thread(
            outbox.claim, self.name, limit=self.batch, lease=self.lease, look=look
        )
        done: list[int] = []
        try:
            for wave in _waves(entries):  # one run's events in order, runs side by side
                results = await asyncio.gather(
                    *(self._publish(entry) for entry in wave), return_exceptions=True
                )
                done.extend(e.seq for e, r in zip(wave, results, strict=True) if r is None)
                failed = [r for r in results if isinstance(r, BaseException)]
                if failed:
                    raise failed[0]
        finally:
            if done:
                await asyncio.to_thread(outbox.mark_published, done, self.name)
            published = set(done)
            rest = [entry.seq for entry in entries if entry.seq not in published]
            if rest:  # the broker failed: the next pass (here or elsewhere) tries again
                await asyncio.to_thread(outbox.release, rest, self.name)
        self.published += len(done)
        return len(done)

    async def _publish(self, entry: OutboxEntry) -> None:
        await self.broker.publish(entry.topic, CloudEvent.entry_body(entry, source=self.source))

    async def _prune(self) -> None:
        """Now and then (each minute at most), drop what was published long ago."""
        now = time.monotonic()
        if self.retention is not None and now - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = now
            await asyncio.to_thread(self.outbox.prune, self.retention)

    async def _run(self) -> None:
        pause = self.interval
        busy = False  # the last pass was full, or a commit here woke this one: rows wait
        while True:
            self._wake.clear()  # before the pass: a commit during it brings the next at once
            try:
                count = await self.publish_pending(look=not busy)
                await self._prune()
                pause = self.interval
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the outbox relay could not publish; it tries again")
                count = 0
                pause = min(max(pause * 2, self.interval), 5.0)
            busy = count >= self.batch
            if busy:
                continue  # more are waiting
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns when the
            # wake and a cancellation (stop()) come together, and the loop ran on forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            busy = self._wake.is_set()
            if count > 1 and self._wake.is_set():
                # several at once: busy. A burst of commits gathers into one pass (each
                # pass takes the write lock the writers want too); idle: at once
                await asyncio.sleep(self.gather)


def _waves(entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
    """The batch in waves published one after another, each wave's events at once:
    a run's events are in successive waves, so they are published in their order,
    while different runs' events do not wait for each other's acknowledgements."""
    waves: list[list[OutboxEntry]] = []
    last: dict[str, int] = {}
    for entry in entries:
        key = entry.subject or entry.id
        number = last.get(key, -1) + 1
        last[key] = number
        if number == len(waves):
            waves.append([])
        waves[number].append(entry)
    return waves
