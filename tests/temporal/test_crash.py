"""A worker killed in the middle of a run: another finishes it, without calling
the model again for a step whose activity had completed."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from ascent.temporal import TemporalRuns
from ascent.testing.mock_openai import MockOpenAIServer

from .processes import worker_process

GUARD = 120.0


@contextmanager
def worker(target: str, task_queue: str, marks: Path, mock: MockOpenAIServer) -> Iterator[int]:
    """The crash app's worker, calling ``mock`` and leaving its marks in ``marks``."""
    env = {
        "OPENAI_BASE_URL": mock.base_url,
        "OPENAI_API_KEY": "test",
        "ASCENT_TEST_MARKS": str(marks),
    }
    options = ("--max-cached-workflows", "0")
    app = "tests.temporal.crash_app:app"
    with worker_process(target, task_queue, app, *options, env=env) as pid:
        yield pid


async def _appears(pattern: str, marks: Path) -> Path:
    async with asyncio.timeout(GUARD):
        while True:
            found = sorted(marks.glob(pattern))
            if found:
                return found[0]
            await asyncio.sleep(0.05)


async def test_a_killed_worker_s_run_is_finished_by_another(
    temporal: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    target = temporal.client.service_client.config.target_host
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    with MockOpenAIServer() as mock:
        mock.add_tool_calls(("slow_lookup", {"order_id": "A-1"}))
        mock.add_text("A-1 ships Monday.")
        with worker(target, task_queue, tmp_path, mock) as first:
            await runs.start("Crash", "Where is A-1?", run_id="crash-1")
            started = await _appears("started-*", tmp_path)
            assert started.name == f"started-{first}"
            os.kill(first, signal.SIGKILL)  # in the middle of the tool's activity
        assert len(mock.requests) == 1  # the first model call's activity had completed

        with worker(target, task_queue, tmp_path, mock) as second:
            state = await asyncio.wait_for(runs.state("crash-1"), GUARD)

    assert state.final_output == "A-1 ships Monday."
    assert len(mock.requests) == 2  # the completed model call was not made again
    assert (tmp_path / "calls").read_text().split() == [str(first), str(second)]
