"""Runs: start one, read it, decide its approvals, cancel it, follow its events.

Every call goes to the durable engine, which keeps runs and their event logs in
the database: a run started through one replica is read, approved and streamed
through any other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from ...durable import MAX_EVENT_SEQ, RunRecord, RunStatus, run_id_for_key
from .._errors import error_responses
from .._paging import Before, Limit, decode_cursor, encode_cursor
from .._sse import SSE_RESPONSES, sse_response
from .._state import ServiceState, State, Tenant, qualify_session, unqualify_record
from ..schemas import ID_PATTERN, ApprovalsRequest, RunList, RunRequest

__all__ = ["router"]

router = APIRouter(tags=["runs"], responses=error_responses(400, 401, 404, 422))

RunId = Annotated[str, Path(pattern=ID_PATTERN, description="The run's id.")]
AgentName = Annotated[str, Path(pattern=ID_PATTERN, description="The agent's name.")]


@router.post(
    "/v1/agents/{name}/runs",
    response_model=RunRecord,
    summary="Start a run",
    responses={**SSE_RESPONSES, **error_responses(409, 413)},
)
async def start_run(
    name: AgentName,
    body: RunRequest,
    request: Request,
    state: State,
    tenant: Tenant,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Send the same key again (after a dropped response, say) and get "
            "the run the first request started, not a second one.",
        ),
    ] = None,
) -> Response | RunRecord:
    """Start a run of agent ``name``: answer with the run, or stream its events.

    With ``"stream": true`` or ``Accept: text/event-stream`` the answer is the
    run's events as server-sent events. Otherwise, unless ``"wait": false``, the
    request waits (up to the service's wait timeout) until the run finishes or
    pauses for approval. A repeated ``Idempotency-Key`` answers with the run
    the key started (409 if that run is of another agent).
    """
    session_id = None if body.session_id is None else qualify_session(tenant, body.session_id)
    record = await state.engine.start_run(
        name,
        body.input,
        session_id=session_id,
        tenant=tenant,
        run_id=None if idempotency_key is None else run_id_for_key(tenant, idempotency_key),
        durability=body.durability,
        previous_response_id=body.previous_response_id,
        conversation_id=body.conversation_id,
    )
    state.metrics.runs_started.labels(agent=name).inc()
    if body.stream or _wants_stream(request):
        return _stream(state, record.id, tenant, after=0)
    if body.wait:
        record = await state.engine.wait_run(
            record.id, tenant=tenant, timeout=state.config.wait_timeout
        )
    return unqualify_record(record, tenant)


@router.get("/v1/runs", response_model=RunList, summary="List runs")
async def list_runs(
    state: State,
    tenant: Tenant,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
    agent: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only runs of this agent.")
    ] = None,
    limit: Limit = 50,
    before: Before = None,
) -> RunList:
    """The caller's runs, newest first (by creation time, then id), a page at a time.

    ``next`` is the ``before`` of the next page, null after the last one.
    """
    records, key = await state.engine.page_runs(
        tenant=tenant, status=status, agent=agent, before=decode_cursor(before), limit=limit
    )
    return RunList(
        runs=[unqualify_record(record, tenant) for record in records], next=encode_cursor(key)
    )


@router.get("/v1/runs/{run_id}", response_model=RunRecord, summary="Read a run")
async def get_run(run_id: RunId, state: State, tenant: Tenant) -> RunRecord:
    """Status, output, pending approvals and usage of a run."""
    return unqualify_record(await state.engine.get_run(run_id, tenant=tenant), tenant)


@router.post(
    "/v1/runs/{run_id}/approvals",
    response_model=RunRecord,
    summary="Approve or reject pending tool calls",
    responses=error_responses(409),
)
async def decide(run_id: RunId, body: ApprovalsRequest, state: State, tenant: Tenant) -> RunRecord:
    """Decide on tool calls the run is waiting for; once all are decided, the run resumes."""
    decisions: dict[str, bool | str] = {
        d.call_id: True if d.approved else (d.reason or False) for d in body.decisions
    }
    record = await state.engine.decide(run_id, decisions, tenant=tenant)
    if body.wait:
        record = await state.engine.wait_run(
            run_id, tenant=tenant, timeout=state.config.wait_timeout
        )
    return unqualify_record(record, tenant)


@router.post(
    "/v1/runs/{run_id}/cancel",
    response_model=RunRecord,
    summary="Cancel a run",
    responses=error_responses(409),
)
async def cancel(run_id: RunId, state: State, tenant: Tenant) -> RunRecord:
    """Stop a queued, running or waiting run; cancelling a cancelled run is a no-op."""
    return unqualify_record(await state.engine.cancel_run(run_id, tenant=tenant), tenant)


@router.get(
    "/v1/runs/{run_id}/events",
    summary="Stream a run's events",
    response_class=Response,
    responses=SSE_RESPONSES,
)
async def events(
    run_id: RunId,
    state: State,
    tenant: Tenant,
    after: Annotated[
        int, Query(ge=0, le=MAX_EVENT_SEQ, description="Send events after this sequence number.")
    ] = 0,
    follow: Annotated[
        bool, Query(description="Wait for new events until the run ends or pauses.")
    ] = True,
    last_event_id: Annotated[
        int | None,
        Header(
            ge=0,
            le=MAX_EVENT_SEQ,
            description="Set by SSE clients on reconnection; wins over `after`.",
        ),
    ] = None,
) -> Response:
    """The run's events as server-sent events, from ``after`` (or ``Last-Event-ID``) on.

    The stream follows the run until it finishes or pauses for approval (or,
    with ``follow=false``, only sends the events stored so far), then sends the
    run record as a last ``run`` event and closes.
    """
    await state.engine.get_run(run_id, tenant=tenant)  # 404 before the stream starts
    start = after if last_event_id is None else last_event_id
    return _stream(state, run_id, tenant, after=start, follow=follow)


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def _stream(
    state: ServiceState, run_id: str, tenant: str | None, *, after: int, follow: bool = True
) -> Response:
    async def final() -> RunRecord:
        return unqualify_record(await state.engine.get_run(run_id, tenant=tenant), tenant)

    return sse_response(
        state.engine.events(run_id, after=after, tenant=tenant, follow=follow),
        final,
        ping_interval=state.config.sse_ping_interval,
    )
