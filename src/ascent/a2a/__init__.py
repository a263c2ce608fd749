"""A2A (Agent2Agent) on both sides, on the official ``a2a-sdk``.

Serve any agent (:func:`create_a2a_app`, :func:`serve`, ``ascent a2a``) and call
remote agents as tools or handoff targets (:class:`RemoteAgent`). Needs the
``a2a`` extra: ``pip install 'ascent-agents[a2a]'``.
"""

from __future__ import annotations

from .card import build_agent_card
from .client import RemoteAgent, RemoteModel
from .executor import AscentAgentExecutor
from .server import create_a2a_app, serve
from .store import SQLTaskStore

__all__ = [
    "AscentAgentExecutor",
    "RemoteAgent",
    "RemoteModel",
    "SQLTaskStore",
    "build_agent_card",
    "create_a2a_app",
    "serve",
]
