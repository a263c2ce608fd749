"""Where the events of Temporal runs go, so streaming clients can follow a run.

The events of a run are made where its commands run: in the activities, on a
worker. A worker hands each event to the :class:`EventLog` of its
:class:`~ascent.temporal.TemporalApp` as it happens (deltas included), so a
client reading that log sees the run move. The workflow itself does no I/O: the
events it makes (a pause for approval) reach the log through an activity.

An activity that is retried after a crash runs its command again, so its
events are sent again; a :class:`~ascent.run.events.ResponseDiscardedEvent`
comes first, saying the earlier attempt's events are void (as in a durable run).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Protocol, runtime_checkable

from ..run.events import StreamEvent

__all__ = ["EventLog", "MemoryEventLog", "RunOutbox", "RunRecords", "SessionTurns"]


class EventLog(Protocol):
    """Takes the events of runs. ``append`` is called on the worker's event loop
    for every event, so it must not block: buffer, and write behind."""

    def append(self, run_id: str, event: StreamEvent) -> None: ...


class RunRecords(Protocol):
    """Keeps the records of runs a service started (``ascent serve --engine temporal://``):
    a worker reports, in activities, when such a run pauses and when it ends, so the
    service's records and event logs say what they say of a durable run.

    :meth:`flush` writes the events handed to the worker's :class:`EventLog` so far
    (an activity calls it before it completes, so what it recorded is in the log)."""

    async def flush(self, run_id: str) -> None: ...

    async def paused(self, run_id: str, agent: str, requests: list[dict[str, Any]]) -> None: ...

    async def ended(
        self,
        run_id: str,
        *,
        status: str,
        output: Any = None,
        error: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None: ...


@runtime_checkable
class SessionTurns(Protocol):
    """Records that can make a service's runs on one session take turns, as on DBOS:
    :meth:`take_turn` waits (up to ``timeout`` seconds) until the runs started
    before ``run_id`` on ``session_id`` have ended; False if it timed out."""

    async def take_turn(self, run_id: str, session_id: str, *, timeout: float) -> bool: ...


@runtime_checkable
class RunOutbox(Protocol):
    """Records with the service's outbox: a tool's ``ascent.durable.emit_event``
    in a run writes its event there, once per ``step`` (an activity, whatever
    its attempt), as in a durable run."""

    async def emit_event(
        self, run_id: str, step: str, type: str, data: Any, *, topic: str, key: str | None
    ) -> str: ...


class MemoryEventLog:
    """An :class:`EventLog` in this process's memory, with :meth:`follow` for
    streaming: for tests, and a worker that serves its own clients."""

    def __init__(self) -> None:
        self._events: defaultdict[str, list[StreamEvent]] = defaultdict(list)
        self._moved: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def append(self, run_id: str, event: StreamEvent) -> None:
        self._events[run_id].append(event)
        moved = self._moved.pop(run_id, None)
        if moved is not None:
            moved.set()

    def events(self, run_id: str) -> list[StreamEvent]:
        """The run's events so far, in order."""
        return list(self._events.get(run_id, ()))

    async def next_events(self, run_id: str, after: int) -> list[StreamEvent]:
        """The run's events after the first ``after``, waiting for one if none is there yet."""
        while len(self._events.get(run_id, ())) <= after:
            await self._moved[run_id].wait()
        return self._events[run_id][after:]
