"""Helpers for tools that run inside durable runs.

A tool in a durable run runs *at least once*: if the process dies while the
tool is running, the step that ran it has no recorded result, and the
recovered run runs it again. Tools with side effects should use
:func:`idempotency_key` (or ``ToolContext.idempotency_key``) to make a repeat
harmless, for example as the idempotency key of a payment API.
"""

from __future__ import annotations

import asyncio
import time

from ._interpreter import current_step
from ._workflows import active_store

__all__ = ["durable_sleep", "idempotency_key"]


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
    is ``asyncio.sleep``.
    """
    base = idempotency_key()
    if base is None:
        await asyncio.sleep(seconds)
        return
    store = active_store()
    wake_at = await asyncio.to_thread(store.timer, f"{base}:{key or ''}", seconds)
    await asyncio.sleep(max(0.0, wake_at - time.time()))
