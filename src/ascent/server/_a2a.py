"""Each agent over A2A too, under ``/a2a/<agent>``, behind the service's API keys.

The A2A app keeps its tasks per authenticated user; here that user is the
caller's tenant, so tenants see only their own A2A tasks. Cards stay public,
as A2A discovery expects. A2A runs are in-process runs (the A2A task store
keeps their state), not durable runs.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .._private.naming import slugify
from ._errors import error_body
from ._state import ServiceState

__all__ = ["mount_a2a"]


def mount_a2a(app: FastAPI, state: ServiceState) -> list[Starlette]:
    """Mount an A2A app per agent; returns them (their lifespans are the caller's to run)."""
    from ..a2a.server import CARD_PATHS, create_a2a_app

    mounted = []
    for agent in state.agents.values():
        inner = create_a2a_app(
            agent,
            database_url=state.config.database_url,
            allowed_hosts=state.config.allowed_hosts,
            allowed_origins=state.config.allowed_origins,
        )
        app.mount(
            f"/a2a/{slugify(agent.name)}",
            _TenantAuth(inner, keys=dict(state.config.api_keys), public=CARD_PATHS),
        )
        mounted.append(inner)
    return mounted


class _TenantAuth:
    """Bearer keys of the service; the tenant becomes the A2A user."""

    def __init__(self, app: ASGIApp, *, keys: dict[str, str], public: tuple[str, ...]) -> None:
        self.app = app
        self._keys = {key.encode(): tenant for key, tenant in keys.items()}
        self._public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._keys:
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        if path in self._public:
            await self.app(scope, receive, send)
            return
        scheme, _, given = Headers(scope=scope).get("authorization", "").partition(" ")
        tenant = None
        for key, owner in self._keys.items():
            if hmac.compare_digest(given.strip().encode(), key):
                tenant = owner
        if scheme.lower() != "bearer" or tenant is None:
            response = JSONResponse(
                error_body("unauthorized", "missing or invalid API key"),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope["user"] = SimpleUser(f"tenant:{tenant}")
        await self.app(scope, receive, send)
