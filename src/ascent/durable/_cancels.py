"""Runs of this process cancelled by another process: found and interrupted here.

``cancel_run`` on the replica that runs a run interrupts its task at once. On
another replica (or through DBOS's own tools) it only marks the run's workflow
cancelled, and DBOS itself stops a workflow at its next step: a tool in flight
would run on to its end. So while ``steps`` runs execute here, one watch per
event loop asks DBOS once a second which of them are cancelled, and interrupts
those (a task cancellation, as a cancellation in this process does).

DBOS's preemptible steps do the same per step: a task and a wait around each
step, 0.13 ms of CPU a step (bench/README.md), for the same one query a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable

from dbos import DBOS, WorkflowStatusString

__all__ = ["CANCEL_CHECK_SECONDS", "CancelWatch"]

logger = logging.getLogger("ascent.durable")

# How often the workflows of the runs executing here are looked at (DBOS's own
# preemptible steps look once a second too).
CANCEL_CHECK_SECONDS = 1.0


class _Watched:
    """One execution of a run here (a run resumed later is a new one)."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop


class CancelWatch:
    """Interrupts the runs it watches once their workflow is found cancelled.

    ``interrupt(run_id)`` stops the run's task (from any thread)."""

    def __init__(
        self, interrupt: Callable[[str], None], *, interval: float = CANCEL_CHECK_SECONDS
    ) -> None:
        self._interrupt = interrupt
        self.interval = interval
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}
        self._pollers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def watch(self, run_id: str) -> None:
        """Watch ``run_id``, which executes on the running event loop, until :meth:`unwatch`."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._watched[run_id] = _Watched(loop)
            poller = self._pollers.get(loop)
            if poller is None or poller.done():
                # a context of its own: DBOS must not take the poll for a step of the run
                self._pollers[loop] = loop.create_task(
                    self._poll(loop), context=contextvars.Context()
                )

    def unwatch(self, run_id: str) -> None:
        with self._lock:
            self._watched.pop(run_id, None)

    def stop(self) -> None:
        """Stop the watch on every event loop (the engine stops)."""
        with self._lock:
            pollers, self._pollers = self._pollers, {}
        for loop, poller in pollers.items():
            with contextlib.suppress(RuntimeError):  # RuntimeError: that loop is closed
                loop.call_soon_threadsafe(poller.cancel)

    async def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while True:
                await asyncio.sleep(self.interval)
                with self._lock:
                    # only the runs executing when the read begins: a stale "cancelled"
                    # must not stop a run resumed since (a new execution)
                    snapshot = {
                        run: entry for run, entry in self._watched.items() if entry.loop is loop
                    }
                    if not snapshot:
                        self._pollers.pop(loop, None)
                        return
                try:
                    found = await DBOS.list_workflows_async(
                        workflow_ids=list(snapshot),
                        status=WorkflowStatusString.CANCELLED.value,
                        load_input=False,
                        load_output=False,
                    )
                except Exception:
                    logger.warning("could not read which runs were cancelled", exc_info=True)
                    continue
                for status in found:
                    run_id = status.workflow_id
                    with self._lock:
                        current = self._watched.get(run_id)
                    if current is not None and current is snapshot.get(run_id):
                        self._interrupt(run_id)
        finally:
            with self._lock:
                if self._pollers.get(loop) is asyncio.current_task():
                    del self._pollers[loop]
