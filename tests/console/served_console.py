"""What the console's browser tests serve: the demo team, streaming at a human pace.

``ascent serve tests/console/served_console.py:create_app`` in a child process
(DBOS allows one engine per process, and the server tests own this one's).
The offline model is deterministic; :class:`PacedModel` only waits a little
between its deltas so that a test can act while an answer streams. The
endpoints in :mod:`stub_endpoints` stand in for list endpoints this branch does
not have yet; set ``CONSOLE_STUBS=0`` once the service has them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Response

from ascent.demo import create_team
from ascent.memory import MemoryStore, open_session
from ascent.models.base import ModelRequest, ModelResponse, ModelStreamEvent, TextDelta
from ascent.models.offline import OfflineModel
from ascent.server._state import State, Tenant, qualify_session, unqualify_record
from ascent.tracing.store import SQLTraceStore

PACE = float(os.environ.get("CONSOLE_PACE", "0.04"))  # seconds between text deltas


class PacedModel:
    """The offline model, its text streamed with a pause between pieces."""

    name = "offline"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self._model = OfflineModel()

    async def respond(self, request: ModelRequest) -> ModelResponse:
        return await self._model.respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        async for event in self._model.stream(request):
            if isinstance(event, TextDelta):
                await asyncio.sleep(PACE)
            yield event


def create_app() -> Any:
    from ascent.server import create_app as make

    memory = MemoryStore()  # the project database (ASCENT_DATABASE_URL)
    app = make(create_team(model=PacedModel(), memory=memory), wait_timeout=10)
    if os.environ.get("CONSOLE_STUBS", "1") == "1":
        app.include_router(stub_router(memory))
    return app


# ------------------------------------------------------------------ stand-ins
# Minimal versions of endpoints another branch adds, with the same shapes; only
# what the console reads. Memories are scoped per tenant here as "<tenant>:<scope>".

SEEDED_NOTE = "Ana prefers answers by email; her shoe size is 39."


def stub_router(memory: MemoryStore) -> Any:
    router = APIRouter()
    seeded: set[str] = set()

    async def runs_of(state: Any, tenant: str | None) -> list[Any]:
        records = await state.engine.list_runs(tenant=tenant, limit=500)
        return [unqualify_record(record, tenant) for record in records]

    @router.get("/v1/runs")
    async def list_runs(
        state: State,
        tenant: Tenant,
        status: str | None = None,
        agent: str | None = None,
        limit: int = Query(50, ge=1, le=500),
        before: str | None = None,
    ) -> dict[str, Any]:
        runs = [
            run
            for run in await runs_of(state, tenant)
            if (not status or run.status == status) and (not agent or run.agent == agent)
        ]
        return {"runs": [run.model_dump(mode="json") for run in runs[:limit]], "next": None}

    @router.get("/v1/sessions")
    async def list_sessions(
        state: State, tenant: Tenant, limit: int = 50, before: str | None = None
    ) -> dict[str, Any]:
        sessions: dict[str, dict[str, Any]] = {}
        for run in await runs_of(state, tenant):
            if run.session_id and run.session_id not in sessions:
                stored_id = qualify_session(tenant, run.session_id)
                stored = open_session(stored_id, state.config.database_url)
                if not await stored.get_items(1):  # deleted
                    continue
                sessions[run.session_id] = {
                    "id": run.session_id,
                    "updated_at": run.updated_at.isoformat(),
                    "items": None,
                }
        return {"sessions": list(sessions.values())[:limit], "next": None}

    @router.get("/v1/traces")
    async def list_traces(
        state: State, tenant: Tenant, limit: int = 50, before: str | None = None
    ) -> dict[str, Any]:
        mine = {run.trace_id for run in await runs_of(state, tenant) if run.trace_id}
        store = SQLTraceStore(state.config.traces_url)
        summaries = store.list_traces(limit=1000)
        found = [s.model_dump(mode="json") for s in summaries if s.trace_id in mine]
        return {"traces": found[:limit], "next": None}

    @router.get("/v1/memories")
    async def list_memories(
        tenant: Tenant, scope: str, q: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        qualified = f"{tenant}:{scope}"
        if tenant == "acme" and qualified not in seeded:
            seeded.add(qualified)
            if not await memory.list(qualified):
                await memory.add(SEEDED_NOTE, scope=qualified, tags=["preference"])
        found = (
            await memory.search(q, scope=qualified, limit=limit)
            if q
            else await memory.list(qualified, limit=limit)
        )
        return {"memories": [m.model_dump(mode="json") | {"scope": scope} for m in found]}

    @router.delete("/v1/memories/{memory_id}", status_code=204, response_class=Response)
    async def delete_memory(memory_id: str, tenant: Tenant, scope: str) -> Response:
        await memory.delete(memory_id, scope=f"{tenant}:{scope}")
        return Response(status_code=204)

    return router
