"""The service's routers, one per resource."""

from __future__ import annotations

from .agents import router as agents_router
from .health import router as health_router
from .memories import router as memories_router
from .runs import router as runs_router
from .sessions import router as sessions_router
from .traces import router as traces_router
from .usage import router as usage_router

__all__ = [
    "agents_router",
    "health_router",
    "memories_router",
    "runs_router",
    "sessions_router",
    "traces_router",
    "usage_router",
]
