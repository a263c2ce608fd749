"""MCP servers for the tests: the calc server as a subprocess (stdio) or on loopback HTTP.

The HTTP server runs uvicorn in a thread with its own event loop, so the tests
talk to it over real HTTP exactly as to another process.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from ascent.mcp import MCPServerStdio

CALC_SERVER = Path(__file__).with_name("calc_server.py")


def calc_stdio(**options: Any) -> MCPServerStdio:
    """The calc server, started as a subprocess by whoever connects it."""
    return MCPServerStdio(command=sys.executable, args=[str(CALC_SERVER)], **options)


class LoopbackServer:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def calc_http_url() -> Iterator[str]:
    """The calc server (imported in-process) over streamable HTTP; its endpoint URL."""
    from .calc_server import server

    loopback = LoopbackServer(server.streamable_http_app())
    yield f"{loopback.base_url}/mcp"
    loopback.stop()
