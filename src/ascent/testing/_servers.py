"""What the loopback server fixtures share: free ports, retried starts, readiness, a clean stop.

Each server runs in a process group of its own, so stopping it also ends
whatever it spawned (the Erlang VM's helpers, a shell wrapper's child).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = [
    "LoopbackServer",
    "free_port",
    "log_tail",
    "retry_start",
    "spawn",
    "stop_process_group",
    "wait_until",
]


def free_port() -> int:
    """A TCP port free on ``127.0.0.1`` right now (a race is possible: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def retry_start(launch: Callable[[], None], *, attempts: int) -> None:
    """Call ``launch`` until it starts the server, at most ``attempts`` times.

    A free port may be taken by someone else before the server binds it, so a
    failed start (a ``RuntimeError``) is tried again on a new port; the last
    failure is raised once the attempts are spent.
    """
    last_error: RuntimeError | None = None
    for _ in range(attempts):
        try:
            launch()
            return
        except RuntimeError as exc:
            last_error = exc
    assert last_error is not None
    raise last_error


def wait_until(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float
) -> bool:
    """Poll ``ready`` until it holds; ``False`` once ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.05)
    return False


def spawn(
    command: list[str],
    *,
    ready: Callable[[], bool],
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes] | None:
    """Start ``command`` in a process group of its own and wait until ``ready``.

    The process once it is ready; ``None`` when it exits or times out first, in
    which case it (and its group) is stopped already. ``output`` takes its stdout
    and stderr.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if wait_until(process, ready, timeout=timeout):
        return process
    stop_process_group(process)
    return None


def stop_process_group(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process (its own clean shutdown), then SIGKILL its whole group.

    The group kill runs even after a clean exit: a wrapper that exits first must
    not leave a VM or helper behind.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def log_tail(path: Path, size: int = 2000) -> str:
    """The end of a server's log, for a start failure's message."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


class LoopbackServer(ABC):
    """A server process in a temporary folder: :meth:`start` (or ``with``) makes the
    folder and launches it, retrying on a new port; :meth:`stop` ends its process
    group and deletes the folder (the data is disposable). A stop is registered
    with ``atexit`` too, so an interpreter that exits early leaves nothing behind.

    Subclasses say how to launch (:meth:`_launch`, which sets ``_process`` once the
    server is ready, else raises ``RuntimeError``), and may prepare the folder
    first (:meth:`_prepare`) and stop helpers after the server (:meth:`_stopped`).
    """

    folder_prefix = "ascent-server-"
    start_attempts = 3

    def __init__(self) -> None:
        self.port = 0
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        if self._process is not None:
            return self
        self.root = Path(tempfile.mkdtemp(prefix=self.folder_prefix))
        try:
            self._prepare()
            retry_start(self._launch, attempts=self.start_attempts)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            stop_process_group(process)
        self._stopped()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare(self) -> None:
        """Fill the new folder before the first launch (nothing, by default)."""
        return

    @abstractmethod
    def _launch(self) -> None:
        """Start the server on this attempt's port and wait until it answers."""

    def _stopped(self) -> None:
        """Stop what the server needed beside it (nothing, by default)."""
        return
