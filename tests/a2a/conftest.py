"""A2A servers for the tests: real uvicorn servers on free loopback ports, in threads.

Each server runs its own event loop in its own thread, so a test's client and
the server talk over real HTTP exactly as two processes would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ascent.testing import LoopbackServer


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start an ASGI app on a free loopback port; returns its base URL. Stopped after the test."""
    running: list[LoopbackServer] = []

    def start(app: Any) -> str:
        server = LoopbackServer(app, timeout_graceful_shutdown=2).start()
        running.append(server)
        return server.url

    yield start
    for server in reversed(running):
        server.stop()
