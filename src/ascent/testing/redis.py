"""A throwaway Redis server on loopback, for tests that need the real thing.

It runs the platform's ``redis-server`` on a free port, in a temporary folder,
with persistence off, and removes everything when stopped::

    with RedisServer() as server:
        session = RedisSession("s1", server.url)   # redis://127.0.0.1:PORT/0

Starting it needs no Python client: readiness is checked with a raw ``PING``.
"""

from __future__ import annotations

import shutil
import socket

from ascent.testing._servers import (
    LoopbackServer,
    free_port,
    log_tail,
    spawn,
)

__all__ = ["RedisServer", "find_redis_server"]

_START_TIMEOUT = 10.0


def find_redis_server() -> str | None:
    """The ``redis-server`` program on the ``PATH``, or ``None`` when Redis is absent."""
    return shutil.which("redis-server")


class RedisServer(LoopbackServer):
    """One Redis server, started by :meth:`start` (or ``with``) and removed by :meth:`stop`."""

    folder_prefix = "ascent-redis-"

    def __init__(self, *, program: str | None = None) -> None:
        found = program or find_redis_server()
        if found is None:
            raise RuntimeError("redis-server not found (install the redis-server package)")
        super().__init__()
        self.program = found

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("the Redis server is not running")
        return f"redis://127.0.0.1:{self.port}/0"

    def _launch(self) -> None:
        assert self.root is not None
        port = free_port()
        log = self.root / "server.log"
        command = [
            self.program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
            "--logfile",
            str(log),
        ]
        process = spawn(
            command, cwd=self.root, ready=lambda: _answers_ping(port), timeout=_START_TIMEOUT
        )
        if process is None:
            raise RuntimeError(f"redis-server did not start on port {port}\n{log_tail(log)}")
        self.port = port
        self._process = process


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False
