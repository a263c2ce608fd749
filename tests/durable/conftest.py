"""Durable engines for the tests: in this process (SQLite), or in child processes.

Tests that kill a process run the engine in a child (``worker.py``), so this
process's DBOS is never involved; the mock model server runs here and counts
every request the children make.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

from ascent.durable import RunRecord
from ascent.durable._store import RunStore
from ascent.storage import dispose_engines
from ascent.testing.mock_openai import MockOpenAIServer
from ascent.testing.postgres import PostgresServer

from ..engines import MakeEngine, engine_maker
from .worker import Options, run

DEADLINE = 60.0


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'durable.db'}"
    dispose_engines()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    yield postgres_server.create_database(f"durable_{uuid.uuid4().hex[:12]}")
    dispose_engines()


@pytest.fixture
async def make_engine(sqlite_url: str) -> AsyncIterator[MakeEngine]:
    """Starts a DurableEngine on a fresh SQLite file (one at a time), stopped after the test."""
    async with engine_maker(sqlite_url, executor_id="test-replica") as make:
        yield make


# Children fork from a server that imported the worker (Ascent, DBOS) once: no
# import cost per child, and no threads of this process in the children.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "tests.durable.worker"])


class Workers:
    """Child processes running :func:`worker.run` against one database and the mock server."""

    def __init__(self, url: str, marks: Path, mock: MockOpenAIServer) -> None:
        self.url = url
        self.marks = marks
        self.env = {"OPENAI_BASE_URL": mock.base_url, "OPENAI_API_KEY": "test"}
        self.running: list[BaseProcess] = []

    def spawn(self, executor: str, **options: Any) -> BaseProcess:
        settings = Options(
            db=self.url, executor=executor, marks=self.marks, env=self.env, **options
        )
        process = _CONTEXT.Process(target=run, args=(settings,), daemon=True)
        process.start()
        self.running.append(process)
        return process

    def result(self, process: BaseProcess) -> RunRecord:
        """The final record a worker started with ``wait`` writes (fails with its error)."""
        result = self.marks / f"result-{process.pid}.json"
        error = self.marks / f"error-{process.pid}.txt"

        def written() -> bool:
            if error.exists() or (not process.is_alive() and not result.exists()):
                raise AssertionError(error.read_text() if error.exists() else "worker died")
            return result.exists()

        wait_for(written, "the worker's result")
        return RunRecord.model_validate_json(result.read_text())

    def kill(self, process: BaseProcess) -> None:
        process.kill()  # SIGKILL: no cleanup of any kind
        process.join(DEADLINE)

    def stop_all(self) -> None:
        for process in self.running:
            if process.is_alive():
                self.kill(process)


@pytest.fixture
def workers(tmp_path: Path, mock_openai: MockOpenAIServer) -> Iterator[Callable[[str], Workers]]:
    made: list[Workers] = []

    def make(url: str) -> Workers:
        marks = tmp_path / "marks"
        marks.mkdir(exist_ok=True)
        made.append(Workers(url, marks, mock_openai))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (fails after DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def record_of(url: str, run_id: str) -> RunRecord | None:
    """Read a run's record straight from the database (no engine, no DBOS)."""
    return RunStore(url).get_run(run_id)


def finished(url: str, run_id: str) -> Callable[[], RunRecord | None]:
    """For :func:`wait_for`: the run's record once it is over."""

    def done() -> RunRecord | None:
        record = record_of(url, run_id)
        return record if record is not None and record.done else None

    return done


def paused(url: str, run_id: str) -> Callable[[], RunRecord | None]:
    """For :func:`wait_for`: the run's record once it waits for approval."""

    def waiting() -> RunRecord | None:
        record = record_of(url, run_id)
        return record if record is not None and record.status == "awaiting_approval" else None

    return waiting
