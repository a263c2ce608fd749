"""A2A servers for the tests: real uvicorn servers on free loopback ports, in threads.

Each server runs its own event loop in its own thread, so a test's client and
the server talk over real HTTP exactly as two processes would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app: ASGIApp) -> RunningServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, log_level="critical", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the A2A test server did not start")
        time.sleep(0.002)
    return RunningServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start an ASGI app on a free loopback port; returns its base URL. Stopped after the test."""
    running: list[RunningServer] = []

    def start(app: Any) -> str:
        server = start_server(app)
        running.append(server)
        return server.url

    yield start
    for server in reversed(running):
        server.stop()
