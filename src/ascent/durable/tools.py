"""Helpers for tools that run inside durable runs.

A tool in a durable run runs *at least once*: if the process dies while the
tool is running, the step that ran it has no recorded result, and the
recovered run runs it again. Tools with side effects should use
:func:`idempotency_key` (or ``ToolContext.idempotency_key``) to make a repeat
harmless, for example as the idempotency key of a payment API.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..errors import UserError
from ._interpreter import current_step
from ._store import RunStore
from ._workflows import active_store
from .outbox import AGENT_EVENTS_TOPIC, Outbox

__all__ = [
    "EmitHook",
    "SleepHook",
    "durable_sleep",
    "emit_event",
    "emitting_with",
    "idempotency_key",
    "outbox_event",
    "sleeping_with",
]

SleepHook = Callable[[float, str], Awaitable[None]]
"""How another engine carries out :func:`durable_sleep`: called with the seconds
and the sleep's key (``""`` by default)."""

_sleep_hook: ContextVar[SleepHook | None] = ContextVar("ascent_sleep_hook", default=None)

EmitHook = Callable[[str, Any, str, "str | None"], Awaitable[str]]
"""How another engine carries out :func:`emit_event`: called with the event's
type, data, topic and key; returns the event's id."""

_emit_hook: ContextVar[EmitHook | None] = ContextVar("ascent_emit_hook", default=None)


@contextmanager
def sleeping_with(hook: SleepHook) -> Iterator[None]:
    """Within the block, :func:`durable_sleep` calls ``hook`` instead: the seam an
    engine that is not DBOS (Temporal, whose workflow keeps the sleep as a timer)
    plugs its own durable sleep into."""
    token = _sleep_hook.set(hook)
    try:
        yield
    finally:
        _sleep_hook.reset(token)


@contextmanager
def emitting_with(hook: EmitHook) -> Iterator[None]:
    """Within the block, :func:`emit_event` calls ``hook`` instead: the seam an
    engine that is not DBOS (Temporal, whose tools run in activities) plugs its
    run's outbox into (see :func:`outbox_event`)."""
    token = _emit_hook.set(hook)
    try:
        yield
    finally:
        _emit_hook.reset(token)


def idempotency_key() -> str | None:
    """``"<run id>:<step>"`` for the durable step in progress, the same on every
    retry of that step; None outside a durable run.

    The tool calls of one model response run in one step: to tell them apart,
    add the call id (``ToolContext.call_id``), or use ``ToolContext.idempotency_key``
    (run id and call id, just as stable).
    """
    scope = current_step()
    return None if scope is None else f"{scope.run_id}:{scope.step}"


async def durable_sleep(seconds: float, *, key: str | None = None) -> None:
    """Sleep inside a tool so that a restart does not start the sleep over.

    In a durable run the wake-up time is stored on the first call; a retried
    step sleeps only until that time. ``key`` tells apart several sleeps in one
    step (default: the step's :func:`idempotency_key`). Outside a durable run it
    is ``asyncio.sleep``. On Temporal the run's workflow sleeps instead, on a
    durable timer (see :func:`sleeping_with`).
    """
    hook = _sleep_hook.get()
    if hook is not None:
        await hook(seconds, key or "")
        return
    base = idempotency_key()
    if base is None:
        await asyncio.sleep(seconds)
        return
    store = active_store()
    wake_at = await store.call(store.timer, f"{base}:{key or ''}", seconds)
    await asyncio.sleep(max(0.0, wake_at - time.time()))


async def emit_event(
    type: str, data: Any = None, *, topic: str = AGENT_EVENTS_TOPIC, key: str | None = None
) -> str:
    """Publish an event of the agent's own from a tool in a durable run (through the
    outbox, like the run's lifecycle events); returns the event's id.

    The id follows from the run, the step, ``type`` and ``key``, so a step that runs
    again after a crash emits the same event, and it is published once. Several
    events of one type in one step need a ``key`` each (a tool call id, say).
    """
    hook = _emit_hook.get()
    if hook is not None:
        return await hook(type, data, topic, key)
    scope = current_step()
    if scope is None:
        raise UserError("emit_event works in a tool of a durable run")
    store = active_store()
    return await outbox_event(
        store, scope.run_id, str(scope.step), type, data, topic=topic, key=key
    )


async def outbox_event(
    store: RunStore,
    run_id: str,
    step: str,
    type: str,
    data: Any,
    *,
    topic: str = AGENT_EVENTS_TOPIC,
    key: str | None = None,
) -> str:
    """Write a run's own event to the outbox of ``store``'s database, once per ``step``
    (what names the part of the run that emits it, the same when it runs again),
    ``type`` and ``key``; returns the event's id."""
    outbox = Outbox(store.url)
    record = await store.call(store.get_run, run_id)
    body = {
        "run_id": run_id,
        "tenant": None if record is None else record.tenant,
        "agent": None if record is None else record.agent,
        "data": data,
    }
    seed = f"{run_id}\0{step}\0{type}\0{key or ''}"
    event_id = hashlib.sha256(seed.encode()).hexdigest()[:32]
    await asyncio.to_thread(outbox.add, type, body, topic=topic, id=event_id)
    return event_id
