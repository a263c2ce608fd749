"""Replica heartbeats and the takeover of a dead replica's runs.

Each engine writes a heartbeat row every ``heartbeat_interval`` seconds. When a
row is older than ``takeover_after``, a live replica claims it in one
conditional update (so exactly one replica wins), asks DBOS to recover the
dead executor's pending workflows, and moves the dead one's leased runs (runs
without a workflow, see ``_leases.py``) to itself and resumes them. DBOS puts
the workflows back on its queue, and the queue's atomic dequeue hands each to
exactly one replica; a stale replica that wakes up later loses ownership at its
next step (DBOS fences it), so a run is never executed by two replicas at once.
A stale replica learns at its next heartbeat that it was taken over, and stops
its leased runs (their writes after that find nothing to fence them but the
run's record: an ended run is not written again). A claim that is never
finished (its claimant was killed while recovering the runs) is claimed again
once it is ``takeover_after`` old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from dbos import DBOS

from ._store import RunStore

__all__ = ["Replica"]

logger = logging.getLogger("ascent.durable")


class Replica:
    """This process's heartbeat, and the takeover of dead replicas."""

    def __init__(
        self,
        store: RunStore,
        *,
        executor_id: str,
        app_version: str,
        heartbeat_interval: float,
        takeover_after: float,
        adopt: Callable[[str], Awaitable[int]] | None = None,
        lost: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.adopt = adopt  # takes a dead replica's leased runs: how many
        self.lost = lost  # this replica was taken over while it lived
        self.executor_id = executor_id
        self.app_version = app_version
        self.heartbeat_interval = heartbeat_interval
        self.takeover_after = takeover_after
        self.taken_over: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(
            self.store.replicas.heartbeat, self.executor_id, self.app_version, starting=True
        )
        await self.take_over()
        self._task = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                alive = await asyncio.to_thread(
                    self.store.replicas.heartbeat, self.executor_id, self.app_version
                )
                if not alive:
                    logger.warning(
                        "replica %s missed its heartbeats long enough to be taken over; "
                        "its runs now belong to another replica",
                        self.executor_id,
                    )
                    if self.lost is not None:
                        self.lost()
                await self.take_over()
            except Exception:
                logger.exception("durable engine heartbeat failed")

    async def take_over(self) -> list[str]:
        """Recover the pending runs of replicas whose heartbeat is too old."""
        # A takeover claimed as long ago as a heartbeat is missed, and never finished,
        # lost its claimant (killed while recovering the runs): it is claimed again.
        cutoff = time.time() - self.takeover_after
        stale = await asyncio.to_thread(
            self.store.replicas.stale_replicas, self.executor_id, cutoff, abandoned=cutoff
        )
        claimed = []
        for dead in stale:
            if not await asyncio.to_thread(
                self.store.replicas.claim_replica, dead, self.executor_id, cutoff, abandoned=cutoff
            ):
                continue  # another replica was first
            try:
                handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [dead])
                leased = await self.adopt(dead) if self.adopt is not None else 0
            except BaseException:
                await asyncio.to_thread(
                    self.store.replicas.release_replica, dead
                )  # let a replica retry
                raise
            await asyncio.to_thread(self.store.replicas.remove_replica, dead)
            logger.info(
                "replica %s took over %d pending run(s) of replica %s",
                self.executor_id,
                len(handles) + leased,
                dead,
            )
            claimed.append(dead)
        self.taken_over.extend(claimed)
        return claimed
