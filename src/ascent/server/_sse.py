"""A run's events as server-sent events: ``id`` is the event's sequence number.

A client that loses the connection reconnects with ``Last-Event-ID`` (any
replica: the events are in the database) and gets what it missed. When the
run finishes or pauses for approval the stream sends one last ``run`` event
carrying the run record (no ``id``, so it never moves the resume point) and
closes. Idle streams get a comment line now and then so proxies keep them open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi.sse import EventSourceResponse, format_sse_event

from ..durable import RunEvent, RunRecord

__all__ = ["SSE_RESPONSES", "sse_response"]

_PING = b": ping\n\n"

# Each event, as OpenAPI 3.2 describes server-sent events (the shape FastAPI uses):
# ``data`` is JSON, a RunEvent for the logged events and the RunRecord for the last one.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "anyOf": [
                    RunEvent.model_json_schema(),
                    {"$ref": "#/components/schemas/RunRecord"},
                ]
            },
        },
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "Server-sent events: one per run event (`id` = its sequence number, "
            "`event` = its type, `data` = the RunEvent as JSON), then a last `run` "
            "event (no `id`) whose data is the RunRecord."
        ),
        "content": {"text/event-stream": {"itemSchema": _EVENT_SCHEMA}},
    }
}


def sse_response(
    events: AsyncIterator[RunEvent],
    final: Callable[[], Awaitable[RunRecord]],
    *,
    ping_interval: float,
) -> EventSourceResponse:
    """Stream ``events``, then the record ``final()`` returns."""
    return EventSourceResponse(
        _frames(events, final, ping_interval),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(
    events: AsyncIterator[RunEvent],
    final: Callable[[], Awaitable[RunRecord]],
    ping_interval: float,
) -> AsyncIterator[bytes]:
    iterator = aiter(events)
    try:
        while True:
            step = asyncio.ensure_future(anext(iterator))
            try:
                while True:
                    done, _ = await asyncio.wait({step}, timeout=ping_interval)
                    if done:
                        break
                    yield _PING
            except BaseException:
                step.cancel()
                with contextlib.suppress(BaseException):
                    await step
                raise
            try:
                event = step.result()
            except StopAsyncIteration:
                break
            yield format_sse_event(
                data_str=event.model_dump_json(), event=event.type, id=str(event.seq)
            )
        record = await final()
        yield format_sse_event(data_str=record.model_dump_json(), event="run")
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
