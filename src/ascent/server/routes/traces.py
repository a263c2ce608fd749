"""``GET /v1/traces/{id}``: a run's trace from the local trace store, for its tenant only.

A durable run's trace carries its run id in its metadata, and the run its
tenant: a trace is shown only to whoever may read its run. With API keys on,
traces of anything else (runs outside the service) are "not found".
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from ...errors import RunNotFound, UserError
from ...tracing.store import SQLTraceStore
from .._errors import ApiError, error_responses
from .._state import ServiceState, State, Tenant
from ..schemas import ID_PATTERN, TraceResponse

__all__ = ["router"]

router = APIRouter(tags=["traces"], responses=error_responses(401, 404, 422))

TraceId = Annotated[str, Path(pattern=ID_PATTERN, description="The trace's id.")]
_ID_PREFIX = "trace_"


@router.get("/v1/traces/{trace_id}", response_model=TraceResponse, summary="Read a trace")
async def get_trace(trace_id: TraceId, state: State, tenant: Tenant) -> TraceResponse:
    """A trace and its spans: model calls, tool calls, handoffs, guardrails, with timings."""
    wanted = trace_id if trace_id.startswith(_ID_PREFIX) else _ID_PREFIX + trace_id
    store = SQLTraceStore(state.config.traces_url)
    found = await asyncio.to_thread(_exact, store, wanted)
    if found is None or not await _visible(state, found, tenant):
        raise ApiError(404, f"no trace with id {trace_id!r}", type="trace_not_found")
    return found


async def _visible(state: ServiceState, found: TraceResponse, tenant: str | None) -> bool:
    run_id = found.trace.metadata.get("run_id")
    if not isinstance(run_id, str):
        return tenant is None
    try:
        await state.engine.get_run(run_id, tenant=tenant)
    except RunNotFound:
        return False
    return True


def _exact(store: SQLTraceStore, trace_id: str) -> TraceResponse | None:
    # The store also matches unique prefixes; the API does not, so that a guess
    # never reveals whether some other trace exists.
    try:
        found = store.get_trace(trace_id)
    except UserError:  # an ambiguous prefix
        return None
    if found is None or found[0].trace_id != trace_id:
        return None
    trace, spans = found
    return TraceResponse(trace=trace, spans=spans)
