"""A throwaway Redis server on loopback, for tests that need the real thing.

It runs the platform's ``redis-server`` on a free port, in a temporary folder,
with persistence off, and removes everything when stopped::

    with RedisServer() as server:
        session = RedisSession("s1", server.url)   # redis://127.0.0.1:PORT/0

Starting it needs no Python client: readiness is checked with a raw ``PING``.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "find_redis_server"]

_START_TIMEOUT = 10.0
_START_ATTEMPTS = 3


def find_redis_server() -> str | None:
    """The ``redis-server`` program on the ``PATH``, or ``None`` when Redis is absent."""
    return shutil.which("redis-server")


class RedisServer:
    """One Redis server, started by :meth:`start` (or ``with``) and removed by :meth:`stop`."""

    def __init__(self, *, program: str | None = None) -> None:
        found = program or find_redis_server()
        if found is None:
            raise RuntimeError("redis-server not found (install the redis-server package)")
        self.program = found
        self.port = 0
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("the Redis server is not running")
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if self._process is not None:
            return self
        self.root = Path(tempfile.mkdtemp(prefix="ascent-redis-"))
        last_error: RuntimeError | None = None
        try:
            for _ in range(_START_ATTEMPTS):  # the free port may be taken before we bind it
                try:
                    self._launch()
                    atexit.register(self.stop)
                    return self
                except RuntimeError as exc:
                    last_error = exc
        except BaseException:
            self.stop()
            raise
        self.stop()
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Stop the server (its data is disposable) and delete its folder."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            _terminate(process)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self) -> None:
        assert self.root is not None
        self.port = _free_port()
        log = self.root / "server.log"
        command = [
            self.program,
            "--port",
            str(self.port),
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
        process = subprocess.Popen(
            command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _answers_ping(self.port):
                self._process = process
                return
            time.sleep(0.02)
        _terminate(process)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"redis-server did not start on port {self.port}\n{tail}")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
