"""MCP on both sides, on the official ``mcp`` SDK.

Use the tools of MCP servers from an agent (:class:`MCPServerStdio`,
:class:`MCPServerHTTP`, given as ``Agent(mcp_servers=[...])``), and serve
agents and function tools as an MCP server (:func:`create_mcp_server`,
:func:`mcp_http_app`, ``ascent mcp``). Needs the ``mcp`` extra:
``pip install 'ascent-agents[mcp]'``. The client classes import without it
(and say so when a server is used); the serving side needs it to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._tools import MCPTool
from .servers import MCPServer, MCPServerHTTP, MCPServerStdio, ToolFilter

if TYPE_CHECKING:
    from .expose import AscentMCPServer, create_mcp_server, mcp_http_app, serve_mcp

__all__ = [
    "AscentMCPServer",
    "MCPServer",
    "MCPServerHTTP",
    "MCPServerStdio",
    "MCPTool",
    "ToolFilter",
    "create_mcp_server",
    "mcp_http_app",
    "serve_mcp",
]

_SERVING = frozenset({"AscentMCPServer", "create_mcp_server", "mcp_http_app", "serve_mcp"})


def __getattr__(name: str) -> Any:
    if name in _SERVING:  # imports the SDK's server side only when asked for
        from .servers import require_mcp

        require_mcp()
        from . import expose

        return getattr(expose, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
