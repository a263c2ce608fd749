"""The service: agents over HTTP, durable runs, any number of stateless replicas.

:func:`create_app` builds a FastAPI app (REST + server-sent events) over a
:class:`~ascent.durable.DurableEngine`; :func:`serve` and ``ascent serve
MODULE:APP`` run it with uvicorn. Needs the ``service`` extra:
``pip install 'ascent-agents[service]'``.
"""

from __future__ import annotations

from .app import create_app
from .config import ServiceConfig, parse_api_keys
from .schemas import (
    AgentInfo,
    AgentList,
    ApprovalDecisionIn,
    ApprovalsRequest,
    ErrorResponse,
    RunRequest,
    SessionItems,
    TraceResponse,
)
from .serve import resolve_app, serve

__all__ = [
    "AgentInfo",
    "AgentList",
    "ApprovalDecisionIn",
    "ApprovalsRequest",
    "ErrorResponse",
    "RunRequest",
    "ServiceConfig",
    "SessionItems",
    "TraceResponse",
    "create_app",
    "parse_api_keys",
    "resolve_app",
    "serve",
]
