"""``ascent`` commands run as servers in a process of their own, and a free IPv6 loopback port."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ipv6_loopback_port() -> int:
    """A free port on ``::1``; skips the test where the machine has no IPv6 loopback.

    This skips under ``CI=true`` too, on purpose: a machine (or a container
    started without IPv6) that has no ``::1`` at all cannot be given one by
    installing anything, unlike the servers other tests skip on outside CI. Any
    other failure to bind is an error, not a skip.
    """
    if not socket.has_ipv6:
        pytest.skip("this Python was built without IPv6")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
            return int(probe.getsockname()[1])
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            pytest.skip(f"no IPv6 loopback on this machine ({exc.strerror})")
        raise


@contextmanager
def ascent_command(
    *arguments: str, host: str, port: int, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """``ascent ARGUMENTS`` in a process, once it accepts connections on ``host:port``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", *arguments],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                said = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise AssertionError(
                    f"ascent {arguments[0]} exited with {process.returncode}:\n{said}"
                )
            try:
                socket.create_connection((host, port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"ascent {arguments[0]} did not start"
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
