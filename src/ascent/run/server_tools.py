"""The tools of agents' MCP servers within one run: listed once, bound on use.

Listing is a command (:class:`~ascent.run.commands.ListTools`) whose result the
state keeps, so a resumed or replayed run sees the tools it saw first. Binding
turns that recorded list back into callable tools on live connections; it
happens when the run first needs an agent's tools (to call the model or run a
tool), whether the list was made now or replayed from a record.
"""

from __future__ import annotations

import logging
from typing import Any

from ..agent import Agent, MCPServerLike
from ..errors import UserError
from .commands import ServerTools
from .graph import AgentNode
from .state import RunState

__all__ = ["ServerConnections"]

logger = logging.getLogger("ascent")


class ServerConnections:
    """The MCP servers one run uses: connected on first use, released at its end."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._held: list[MCPServerLike] = []
        self._bound: set[str] = set()

    async def list(self, node: AgentNode) -> list[ServerTools]:
        """The ``ListTools`` command: each server's tools, as data to record."""
        listed: list[ServerTools] = []
        for server in node.agent.mcp_servers:
            await self._acquire(server)
            listed.append(ServerTools(server=server.name, tools=await server.list_tool_specs()))
        return listed

    async def bind(self, node: AgentNode) -> bool:
        """Add the agent's listed server tools to its node, once per run; True when
        the node's tools changed. A name taken twice raises :class:`UserError`."""
        agent = node.agent
        listed = self.state.server_tools.get(agent.name)
        if listed is None or agent.name in self._bound:
            return False
        self._bound.add(agent.name)
        servers = list(agent.mcp_servers)
        if [s.name for s in servers] != [entry.server for entry in listed]:
            raise UserError(_servers_changed(agent, listed))
        for server, entry in zip(servers, listed, strict=True):
            await self._acquire(server)
            node.add_function_tools(
                [server.bind(spec) for spec in entry.tools], source=f"MCP server {server.name!r}"
            )
        return True

    async def release(self) -> None:
        held, self._held = self._held, []
        for server in reversed(held):
            try:
                await server.release()
            except Exception as exc:  # closing must not hide the run's outcome
                logger.warning("closing MCP server %r failed: %s", server.name, exc)

    async def _acquire(self, server: MCPServerLike) -> None:
        if any(server is held for held in self._held):
            return
        await server.acquire()
        self._held.append(server)


def _servers_changed(agent: Agent[Any], listed: list[ServerTools]) -> str:
    before = ", ".join(entry.server for entry in listed) or "none"
    now = ", ".join(server.name for server in agent.mcp_servers) or "none"
    return (
        f"agent {agent.name!r} had the MCP servers {before} when this run listed its "
        f"tools, and has {now} now; resume the run with the agent it began with"
    )
