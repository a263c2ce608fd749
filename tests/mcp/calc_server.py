"""A small MCP server for the tests, on the SDK's own MCPServer (run as a subprocess)."""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

server = MCPServer("calc", log_level="ERROR")


class Sum(BaseModel):
    total: int


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two whole numbers."""
    return Sum(total=a + b)


@server.tool(structured_output=False)
def shout(text: str) -> str:
    """Repeat a text in capitals."""
    return text.upper()


@server.tool(structured_output=False)
def divide(a: float, b: float) -> str:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return str(a / b)


@server.tool(structured_output=False)
async def sleep(seconds: float) -> str:
    """Wait a while, then answer."""
    await anyio.sleep(seconds)
    return "awake"


@server.tool(structured_output=False)
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool(structured_output=False)
def learn(name: str) -> str:
    """Add a tool called ``name`` to this server (its tool list changes)."""

    def learned() -> str:
        return f"learned tool {name}"

    server.add_tool(
        learned, name=name, description=f"A learned tool, {name}.", structured_output=False
    )
    return f"now serving {name}"


def crash() -> str:
    """Stop the server process at once (to test a server that dies mid-run)."""
    os._exit(3)


if __name__ == "__main__":  # as a subprocess only: crash would end an in-process test run
    server.add_tool(crash, structured_output=False)
    server.run()
