"""A small client for the Ascent service's public HTTP API (no ``ascent`` import).

Only what the chat needs: list the agents, start a streamed run in a session,
follow a run's events from a sequence number on (resuming after a dropped
connection), decide pending approvals and cancel a run. Events arrive as
:class:`Event`: the event name, its sequence number (``None`` for the last
``run`` event, which carries the run record) and its JSON data.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse

__all__ = ["AscentClient", "AscentError", "Event"]

DEFAULT_URL = "http://127.0.0.1:8000"
RECONNECTS = 5


class AscentError(RuntimeError):
    """The service answered with an error (or not at all)."""


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    seq: int | None
    data: dict[str, Any]


class AscentClient:
    """The service at ``url`` (``ASCENT_URL``), with ``api_key`` (``ASCENT_API_KEY``)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("ASCENT_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("ASCENT_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # No read timeout: a run may think for a while (the service pings idle streams).
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(30, read=None),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AscentError(f"cannot reach the Ascent service at {self.url}: {exc}") from exc
        if response.is_error:
            raise AscentError(_problem(response.status_code, response.text))
        return response.json()

    async def agents(self) -> list[str]:
        """The names of the agents the service serves, in its order."""
        body = await self._json("GET", "/v1/agents")
        return [agent["name"] for agent in body["agents"]]

    async def session_items(self, session_id: str) -> list[dict[str, Any]]:
        """The items of a session (its conversation so far); none for an unknown one."""
        try:
            body = await self._json("GET", f"/v1/sessions/{session_id}/items")
        except AscentError:
            return []
        items = body.get("items", body) if isinstance(body, dict) else body
        return list(items)

    async def decide(self, run_id: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
        """Send decisions on pending tool calls; the run resumes once all are in."""
        body = {"decisions": decisions, "wait": False}
        record: dict[str, Any] = await self._json("POST", f"/v1/runs/{run_id}/approvals", json=body)
        return record

    async def cancel(self, run_id: str) -> None:
        await self._json("POST", f"/v1/runs/{run_id}/cancel")

    async def start_run(self, agent: str, text: str, session_id: str) -> AsyncIterator[Event]:
        """Start a run of ``agent`` on ``text`` in ``session_id``; its events as they happen.

        If the connection drops once the run is known, the stream resumes from the
        last event received (``GET /v1/runs/{id}/events?after=N``).
        """
        body = {"input": text, "session_id": session_id, "stream": True}
        run_id: str | None = None
        last = 0
        try:
            async for event in self._sse("POST", f"/v1/agents/{agent}/runs", json=body):
                run_id = event.data.get("run_id", run_id)
                if event.seq is not None:
                    last = event.seq
                yield event
            return
        except httpx.HTTPError as exc:
            if run_id is None:
                raise AscentError(f"cannot reach the Ascent service at {self.url}: {exc}") from exc
        async for event in self.follow(run_id, after=last):
            yield event

    async def follow(self, run_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """A run's events after sequence number ``after``, to the end or the next pause."""
        for attempt in range(RECONNECTS + 1):
            try:
                async for event in self._sse(
                    "GET", f"/v1/runs/{run_id}/events", params={"after": after}
                ):
                    if event.seq is not None:
                        after = event.seq
                    yield event
                return
            except httpx.HTTPError as exc:
                if attempt == RECONNECTS:
                    raise AscentError(f"lost the run's event stream: {exc}") from exc
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _sse(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[Event]:
        async with aconnect_sse(self.http, method, path, **kwargs) as source:
            response = source.response
            if response.is_error:
                await response.aread()
                raise AscentError(_problem(response.status_code, response.text))
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue
                # The last ``run`` event has no id (SSE readers repeat the previous one).
                seq = int(sse.id) if sse.id and sse.event != "run" else None
                yield Event(name=sse.event, seq=seq, data=json.loads(sse.data))


def _problem(status: int, text: str) -> str:
    try:
        detail = json.loads(text).get("detail", text)
    except (ValueError, AttributeError):
        detail = text
    return f"the Ascent service answered {status}: {detail}"
