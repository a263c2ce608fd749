"""An ASGI app served by uvicorn on a free loopback port, in a thread of its own.

The app gets its own event loop, so a test's client talks to it over real HTTP
exactly as to another process, without the cost of starting one.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Any, Self

__all__ = ["LoopbackServer", "wait_until_serving"]


class LoopbackServer:
    """``app`` on ``127.0.0.1`` at a free port (or at ``port``); ``url`` once started.

    Extra keyword options go to ``uvicorn.Config`` (``lifespan``,
    ``timeout_keep_alive``, ``backlog``...).
    """

    def __init__(
        self, app: Any, *, port: int = 0, start_timeout: float = 10.0, **options: Any
    ) -> None:
        self.app = app
        self.requested_port = port
        self.start_timeout = start_timeout
        self.options = options
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Bind a free port and serve; returns once the server accepts connections."""
        import uvicorn

        if self._thread is not None:
            return self
        # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections;
        # without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.requested_port))
        options = {
            "log_config": None,
            "log_level": "critical",
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **self.options,
        }
        self._server = uvicorn.Server(uvicorn.Config(self.app, **options))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{type(self.app).__name__} on loopback failed to start")
            time.sleep(0.002)
        self.port = sock.getsockname()[1]
        return self

    def stop(self, *, force: bool = False) -> None:
        """Stop serving; ``force`` does not wait for open connections to finish."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._server.force_exit = force
        self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        self.port = 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_until_serving(
    url: str, *, process: subprocess.Popen[Any] | None = None, timeout: float = 30.0
) -> None:
    """Poll ``url`` until it answers 200: a server started in another process is ready.

    With ``process``, fail at once (with what it wrote, when its output is a
    pipe) if it exits first, rather than waiting out ``timeout``.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout or process.stderr
            said = output.read() if output is not None else ""
            if isinstance(said, bytes):
                said = said.decode(errors="replace")
            raise RuntimeError(f"the server exited with {process.returncode}:\n{said}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")
