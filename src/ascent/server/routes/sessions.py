"""Sessions: read a conversation's items, or delete it.

Session ids are per tenant: the stored id is qualified by the caller's tenant,
so two tenants using the same name have two sessions, and no tenant can name
another's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ...memory import open_session
from .._errors import error_responses
from .._state import State, Tenant, qualify_session
from ..schemas import SESSION_ID_PATTERN, SessionItems

__all__ = ["router"]

router = APIRouter(tags=["sessions"], responses=error_responses(401, 422))

SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="The session's id.")]


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
