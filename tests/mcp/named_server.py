"""An MCP server whose tools are named in a file it reads once, when it starts.

Run as ``python named_server.py NAMES``: each word of the file NAMES is a tool
that takes ``text`` and answers ``"<name>: <text>"``. Rewriting the file
between two starts of the server changes the tools it offers, as a server that
was upgraded between two connections would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from mcp.server.mcpserver import MCPServer


def _echo(name: str) -> Callable[[str], str]:
    def tool(text: str) -> str:
        return f"{name}: {text}"

    return tool


def serve(names: list[str]) -> MCPServer:
    server = MCPServer("named", log_level="ERROR")
    for name in names:
        server.add_tool(
            _echo(name), name=name, description=f"The tool {name}.", structured_output=False
        )
    return server


if __name__ == "__main__":
    serve(Path(sys.argv[1]).read_text().split()).run()
