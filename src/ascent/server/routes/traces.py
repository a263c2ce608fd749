"""``GET /v1/traces`` and ``GET /v1/traces/{id}``: runs' traces from the local trace
store, for their tenant only.

A durable run's trace carries its run id in its metadata, and the run its
tenant: a trace is shown only to whoever may read its run. With API keys on,
traces of anything else (runs outside the service) are "not found" and not
listed; with none (one anonymous tenant, the machine's owner) they are.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from ...errors import RunNotFound, UserError
from ...tracing.store import SQLTraceStore, TraceSummary
from .._errors import ApiError, error_responses
from .._paging import Before, Limit, decode_cursor, encode_cursor
from .._state import ServiceState, State, Tenant
from ..schemas import ID_PATTERN, TraceList, TraceResponse

__all__ = ["router"]

router = APIRouter(tags=["traces"], responses=error_responses(401, 404, 422))

TraceId = Annotated[str, Path(pattern=ID_PATTERN, description="The trace's id.")]
_ID_PREFIX = "trace_"
# A page is looked for in at most this many batches: a page can come back short
# (runs whose trace is not in the store, traces of other tenants' runs); its
# ``next`` then goes on from where the search stopped.
_BATCHES = 10
Key = tuple[float, str]


@router.get("/v1/traces", response_model=TraceList, summary="List traces")
async def list_traces(
    state: State, tenant: Tenant, limit: Limit = 50, before: Before = None
) -> TraceList:
    """Summaries of the traces the caller may read, newest first, a page at a time.

    With API keys, a tenant's traces are those of its own runs, newest run
    first. Without keys, every trace in the store: those of the service's runs
    and those written by anything else on the same database (a script's
    ``Runner.run``). A page may hold fewer than ``limit`` traces while ``next``
    is not null: keep going until ``next`` is null.
    """
    store = SQLTraceStore(state.config.traces_url)
    key = decode_cursor(before)
    if tenant is None:  # no keys: the machine's owner
        found, key = await _all_traces(state, store, limit, key)
    else:
        found, key = await _traces_of_runs(state, store, tenant, limit, key)
    return TraceList(traces=found, next=encode_cursor(key))


async def _traces_of_runs(
    state: ServiceState, store: SQLTraceStore, tenant: str | None, limit: int, key: Key | None
) -> tuple[list[TraceSummary], Key | None]:
    found: list[TraceSummary] = []
    for _ in range(_BATCHES):
        runs, key = await state.engine.page_runs(
            tenant=tenant, traced=True, before=key, limit=limit - len(found)
        )
        runs_by_trace = {run.trace_id: run.id for run in runs if run.trace_id is not None}
        summaries = await asyncio.to_thread(store.summaries, list(runs_by_trace))
        # as GET /v1/traces/{id} decides: by the run the trace itself names
        found.extend(s for s in summaries if s.run_id == runs_by_trace[s.trace_id])
        if key is None or len(found) >= limit:
            break
    return found, key


async def _all_traces(
    state: ServiceState, store: SQLTraceStore, limit: int, key: Key | None
) -> tuple[list[TraceSummary], Key | None]:
    found: list[TraceSummary] = []
    for _ in range(_BATCHES):
        wanted = limit - len(found)
        batch = await asyncio.to_thread(store.list_traces, wanted + 1, before=key)
        more = len(batch) > wanted
        batch = batch[:wanted]
        if batch:
            key = (batch[-1].started_at, batch[-1].trace_id)
        found.extend(await asyncio.to_thread(_anonymous_ones, state, batch))
        if not more:
            return found, None
        if len(found) >= limit:
            break
    return found, key


def _anonymous_ones(state: ServiceState, batch: list[TraceSummary]) -> list[TraceSummary]:
    """The traces of ``batch`` that :func:`get_trace` shows the anonymous tenant: those
    of no run, and those of its runs (not of runs a tenant made while keys were on)."""
    store = state.engine.store
    kept = []
    for summary in batch:
        if summary.run_id is None:
            kept.append(summary)
            continue
        record = store.get_run(summary.run_id)
        if record is not None and record.tenant is None:
            kept.append(summary)
    return kept


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
