"""MCP servers for the tests: the calc server as a subprocess (stdio) or on loopback HTTP,
and a stdio server whose tool list a test chooses (``named_server.py``).

The HTTP server runs uvicorn in a thread with its own event loop, so the tests
talk to it over real HTTP exactly as to another process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ascent.mcp import MCPServerStdio
from ascent.testing import LoopbackServer

CALC_SERVER = Path(__file__).with_name("calc_server.py")
NAMED_SERVER = Path(__file__).with_name("named_server.py")


def calc_stdio(**options: Any) -> MCPServerStdio:
    """The calc server, started as a subprocess by whoever connects it."""
    return MCPServerStdio(command=sys.executable, args=[str(CALC_SERVER)], **options)


def named_stdio(names: Path, **options: Any) -> MCPServerStdio:
    """A server whose tools are the words of the file ``names`` when it starts."""
    return MCPServerStdio(command=sys.executable, args=[str(NAMED_SERVER), str(names)], **options)


@pytest.fixture(scope="session")
def calc_http_url() -> Iterator[str]:
    """The calc server (imported in-process) over streamable HTTP; its endpoint URL."""
    from .calc_server import server

    loopback = LoopbackServer(server.streamable_http_app()).start()
    yield f"{loopback.url}/mcp"
    loopback.stop()
