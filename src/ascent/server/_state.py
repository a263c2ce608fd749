"""What routes reach through ``request.app.state``: config, engine, agents, metrics; and who calls.

The app holds no state between requests beyond these handles: runs, sessions
and traces all live in the database, so any replica answers any request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..durable import RunRecord
from ..events import EventService
from ..run.registry import AgentRegistry
from ._errors import ApiError
from ._metrics import Metrics
from .config import ServiceConfig
from .engine import RunEngine

__all__ = [
    "ServiceState",
    "State",
    "Tenant",
    "foreign_prefix",
    "get_state",
    "qualify_session",
    "tenant_prefix",
    "unqualify_record",
    "unqualify_session",
]

_TENANT_SESSION_PREFIX = "t/"
_bearer = HTTPBearer(auto_error=False, description="An API key from ASCENT_API_KEYS.")


@dataclass(kw_only=True)
class ServiceState:
    config: ServiceConfig
    engine: RunEngine
    metrics: Metrics
    owns_engine: bool
    events: EventService | None = None

    @property
    def agents(self) -> AgentRegistry:
        """The agents served: the engine's own."""
        return self.engine.agents


# The dependencies are ``async``: FastAPI would run plain functions in a worker
# thread, two thread hops per request for a few dictionary lookups.


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.ascent
    return state


State = Annotated[ServiceState, Depends(get_state)]


async def authenticate(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The caller's tenant; ``None`` when the service has no keys (one anonymous tenant)."""
    keys = state.config.api_keys
    if not keys:
        return None
    if credentials is None:
        raise ApiError(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE
        )
    given = credentials.credentials.encode()
    tenant = None
    for key, owner in keys.items():  # compare with every key: no timing hint of which matched
        if hmac.compare_digest(given, key.encode()):
            tenant = owner
    if tenant is None:
        raise ApiError(401, "invalid API key", headers=_CHALLENGE)
    return tenant


_CHALLENGE = {"WWW-Authenticate": "Bearer"}

Tenant = Annotated[str | None, Depends(authenticate)]


def qualify_session(tenant: str | None, session_id: str) -> str:
    """The stored id of a tenant's session: tenants never share a session, whatever its name."""
    return session_id if tenant is None else f"{_TENANT_SESSION_PREFIX}{tenant}/{session_id}"


def tenant_prefix(tenant: str | None) -> str:
    """What every stored id of ``tenant``'s starts with ("" for the anonymous tenant)."""
    return "" if tenant is None else f"{_TENANT_SESSION_PREFIX}{tenant}/"


def foreign_prefix(tenant: str | None) -> str | None:
    """What no stored id of ``tenant``'s starts with: the anonymous tenant's ids are bare,
    so those of named tenants are not its own."""
    return _TENANT_SESSION_PREFIX if tenant is None else None


def unqualify_session(tenant: str | None, stored: str | None) -> str | None:
    if stored is None or tenant is None:
        return stored
    return stored.removeprefix(f"{_TENANT_SESSION_PREFIX}{tenant}/")


def unqualify_record(record: RunRecord, tenant: str | None) -> RunRecord:
    """The run as its tenant named it: the session id without the tenant's qualifier."""
    if tenant is None or record.session_id is None:
        return record
    return record.model_copy(update={"session_id": unqualify_session(tenant, record.session_id)})
