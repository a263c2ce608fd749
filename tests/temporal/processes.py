"""``ascent worker`` in a process of its own, for the tests that need a real worker
process (one to kill, or one beside a served app)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(
    target: str,
    task_queue: str,
    app: str,
    *options: str,
    env: Mapping[str, str] | None = None,
) -> Iterator[int]:
    """``ascent worker`` for ``app`` on ``task_queue`` (with ``options`` and ``env``
    added); yields its process id, and stops it (SIGTERM, then SIGKILL) on exit."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ascent.cli",
            "worker",
            "--temporal",
            target,
            "--task-queue",
            task_queue,
            *options,
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
