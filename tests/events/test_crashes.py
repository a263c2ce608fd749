"""kill -9 a replica at the two moments that matter, on each broker: after it
received a message and before it acknowledged it, and between a run's change and
the relay's publication of it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ascent.durable import run_id_for_key
from ascent.durable._store import RunStore
from ascent.events import RUN_COMPLETED, RUNS_TOPIC, Broker, publish_event

from .conftest import DEADLINE, Collector
from .test_events import order

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["redis", "rabbitmq", "nats"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Worker:
    def __init__(self, db: str, broker: str, marks: Path) -> None:
        self.db, self.broker, self.marks = db, broker, marks
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, crash: str = "none") -> subprocess.Popen[bytes]:
        (self.marks / "ready").unlink(missing_ok=True)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.events.worker",
                self.db,
                self.broker,
                str(self.marks),
                crash,
            ],
            cwd=ROOT,
        )
        self.processes.append(process)
        deadline = time.monotonic() + DEADLINE
        while not (self.marks / "ready").exists():
            assert process.poll() is None, f"the worker exited with {process.returncode}"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        return process

    def handled(self) -> list[str]:
        path = self.marks / "handled"
        return path.read_text().split() if path.exists() else []

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def worker(tmp_path: Path, sqlite_url: str, broker_url: str) -> Iterator[Worker]:
    marks = tmp_path / "marks"
    marks.mkdir()
    made = Worker(sqlite_url, broker_url, marks)
    yield made
    made.stop()


def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def test_a_consumer_killed_before_it_acknowledged_gets_the_message_again_and_one_run_exists(
    worker: Worker, make_broker: Callable[[], Broker], sqlite_url: str
) -> None:
    collector = await Collector().attach(make_broker(), RUNS_TOPIC)
    first = await asyncio.to_thread(worker.start, "after-queue")
    event = order()
    await publish_event(make_broker(), "orders.created", event)
    assert (
        await asyncio.to_thread(first.wait, DEADLINE) == -9
    )  # killed with the message unacknowledged
    run_id = run_id_for_key(None, event.id)
    store = RunStore(sqlite_url)
    assert store.get_run(run_id) is not None  # its run was durably queued first

    await asyncio.to_thread(worker.start)  # the loop keeps serving the collector
    [done] = await collector.wait_for(RUN_COMPLETED, run_id=run_id)
    await asyncio.to_thread(
        wait_for, lambda: worker.handled() == [event.id]
    )  # the message came back, and only once
    assert [run.id for run in store.list_runs(tenant=None)] == [run_id]
    assert done.data["run_id"] == run_id
    assert len(collector.of(RUN_COMPLETED)) == 1


async def test_a_replica_killed_between_a_change_and_its_publication_publishes_it_after_restart(
    worker: Worker, make_broker: Callable[[], Broker], sqlite_url: str
) -> None:
    collector = await Collector().attach(make_broker(), RUNS_TOPIC)
    first = await asyncio.to_thread(worker.start, "before-publish")
    event = order()
    await publish_event(make_broker(), "orders.created", event)
    assert await asyncio.to_thread(first.wait, DEADLINE) == -9
    run_id = run_id_for_key(None, event.id)
    store = RunStore(sqlite_url)
    record = store.get_run(run_id)
    assert record is not None and record.status == "completed"  # the change committed
    assert collector.of(RUN_COMPLETED) == []  # and its event was not published

    await asyncio.to_thread(worker.start)  # the loop keeps serving the collector
    [done] = await collector.wait_for(RUN_COMPLETED, run_id=run_id)
    await asyncio.sleep(1.0)  # a second publication would show by now
    assert [e.id for e in collector.of(RUN_COMPLETED)] == [done.id]
    assert [run.id for run in store.list_runs(tenant=None)] == [run_id]
