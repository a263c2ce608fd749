"""``ascent worker``: what it says when it cannot start (the crash test runs it for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _worker(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ascent.cli", "worker", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unreachable_server_is_named() -> None:
    done = _worker("--temporal", "127.0.0.1:1", "--task-queue", "q", "tests.temporal.crash_app:app")
    assert done.returncode == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in done.stderr


def test_a_target_that_is_no_app_is_refused() -> None:
    done = _worker(
        "--temporal", "127.0.0.1:1", "--task-queue", "q", "tests.temporal.scenarios:Order"
    )
    assert done.returncode == 1
    assert "expected a TemporalApp or agents" in done.stderr


def test_the_task_queue_is_required() -> None:
    done = _worker("--temporal", "127.0.0.1:1", "tests.temporal.crash_app:app")
    assert done.returncode != 0
    assert "--task-queue" in done.stderr
