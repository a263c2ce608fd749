"""Long-term memory: list or search a scope's memories, delete one.

Scopes are per tenant, as session ids are: the stored scope is qualified by the
caller's tenant, so no tenant can name another's, and memories come back with
the scope as the caller named it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ...memory import Memory, MemoryStore
from .._errors import ApiError, error_responses
from .._paging import MAX_LIMIT
from .._state import State, Tenant, qualify_session, unqualify_session
from ..schemas import SESSION_ID_PATTERN, MemoryList

__all__ = ["router"]

router = APIRouter(tags=["memories"], responses=error_responses(400, 401, 422))

Scope = Annotated[
    str,
    Query(pattern=SESSION_ID_PATTERN, description="Whose memories: a user, a team, ..."),
]
MemoryId = Annotated[
    str, Path(pattern=r"^[^\x00-\x1f\x7f-\x9f]{1,200}$", description="The memory's id.")
]


@router.get("/v1/memories", response_model=MemoryList, summary="List or search memories")
async def list_memories(
    state: State,
    tenant: Tenant,
    scope: Scope,
    q: Annotated[
        str | None,
        Query(
            pattern=r"^[^\x00-\x1f\x7f-\x9f]{1,1000}$",
            description="Search: the memories most relevant to this text, best first.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="The most memories.")] = 50,
) -> MemoryList:
    """The scope's memories: with ``q``, those a search finds (by keywords), best
    first; without, the most recently updated first."""
    stored = qualify_session(tenant, scope)
    async with MemoryStore(state.config.database_url) as store:
        if q is None:
            found = await store.list(stored, limit=limit)
        else:
            found = await store.search(q, scope=stored, limit=limit)
    return MemoryList(memories=[_as_named(memory, tenant, scope) for memory in found])


@router.delete(
    "/v1/memories/{memory_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a memory",
    responses=error_responses(404),
)
async def delete_memory(
    memory_id: MemoryId, scope: Scope, state: State, tenant: Tenant
) -> Response:
    """Forget one memory of the scope; 404 if the scope has none with that id."""
    async with MemoryStore(state.config.database_url) as store:
        deleted = await store.delete(memory_id, scope=qualify_session(tenant, scope))
    if not deleted:
        raise ApiError(404, f"no memory {memory_id!r} in scope {scope!r}", type="memory_not_found")
    return Response(status_code=204)


def _as_named(memory: Memory, tenant: str | None, scope: str) -> Memory:
    named = unqualify_session(tenant, memory.scope) or scope
    return memory if named == memory.scope else memory.model_copy(update={"scope": named})
