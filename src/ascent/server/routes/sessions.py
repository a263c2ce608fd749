"""Sessions: list them, read a conversation's items, or delete it.

Session ids are per tenant: the stored id is qualified by the caller's tenant,
so two tenants using the same name have two sessions, and no tenant can name
another's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ...memory import list_sessions, open_session
from .._errors import error_responses
from .._paging import Before, Limit, decode_cursor, encode_cursor
from .._state import (
    State,
    Tenant,
    foreign_prefix,
    qualify_session,
    tenant_prefix,
    unqualify_session,
)
from ..schemas import SESSION_ID_PATTERN, SessionInfo, SessionItems, SessionList

__all__ = ["router"]

router = APIRouter(tags=["sessions"], responses=error_responses(401, 422))

SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="The session's id.")]


@router.get("/v1/sessions", response_model=SessionList, summary="List sessions")
async def list_all(
    state: State, tenant: Tenant, limit: Limit = 50, before: Before = None
) -> SessionList:
    """The caller's sessions, most recently written first, with their number of items.

    Expired sessions are left out. ``next`` is the ``before`` of the next page,
    null after the last one.
    """
    page, key = await asyncio.to_thread(
        list_sessions,
        state.config.database_url,
        prefix=tenant_prefix(tenant),
        exclude_prefix=foreign_prefix(tenant),
        limit=limit,
        before=decode_cursor(before),
    )
    sessions = [
        SessionInfo(
            id=unqualify_session(tenant, found.session_id) or found.session_id,
            updated_at=found.updated_at,
            items=found.items,
            created_at=found.created_at,
        )
        for found in page
    ]
    return SessionList(sessions=sessions, next=encode_cursor(key))


@router.get(
    "/v1/sessions/{session_id}/items", response_model=SessionItems, summary="Read a session"
)
async def get_items(
    session_id: SessionId,
    state: State,
    tenant: Tenant,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="Only the last LIMIT items.")
    ] = None,
) -> SessionItems:
    """The session's items, oldest first (none for a session never written to)."""
    session = open_session(qualify_session(tenant, session_id), state.config.database_url)
    return SessionItems(session_id=session_id, items=await session.get_items(limit))


@router.delete(
    "/v1/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a session",
)
async def delete_session(session_id: SessionId, state: State, tenant: Tenant) -> Response:
    """Remove the session and its items (deleting an unknown session is not an error)."""
    session = open_session(qualify_session(tenant, session_id), state.config.database_url)
    delete = getattr(session, "delete", None)
    if delete is not None:
        await delete()
    else:
        await session.clear()
    return Response(status_code=204)
