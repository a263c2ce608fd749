"""The watch that interrupts the ``steps`` runs of this process cancelled by another."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from dbos import DBOS

from ascent.durable._cancels import CancelWatch


class _Reads:
    """DBOS's list of workflows, as the watch reads it: the cancelled among the ids."""

    def __init__(self) -> None:
        self.cancelled: set[str] = set()
        self.asked: list[list[str]] = []
        self.during: Any = None  # called while a read is in flight
        self.fail = False

    async def __call__(self, *, workflow_ids: list[str], status: str, **_: Any) -> list[Any]:
        assert status == "CANCELLED"
        self.asked.append(sorted(workflow_ids))
        if self.during is not None:
            self.during()
        if self.fail:
            raise RuntimeError("the database is down")
        return [SimpleNamespace(workflow_id=run) for run in workflow_ids if run in self.cancelled]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> _Reads:
    found = _Reads()
    monkeypatch.setattr(DBOS, "list_workflows_async", found)
    return found


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_the_runs_found_cancelled_are_interrupted_and_the_others_left(reads: _Reads) -> None:
    interrupted: list[str] = []
    watch = CancelWatch(interrupted.append, interval=0.01)
    watch.watch("a")
    watch.watch("b")
    await _until(lambda: reads.asked)
    assert reads.asked[0] == ["a", "b"]
    reads.cancelled.add("b")
    await _until(lambda: interrupted)
    assert set(interrupted) == {"b"}
    watch.unwatch("a")
    watch.unwatch("b")
    asked = len(reads.asked)
    await asyncio.sleep(0.1)
    assert len(reads.asked) <= asked + 1  # nothing watched: the watch stops asking
    watch.stop()


async def test_a_run_resumed_while_a_read_is_in_flight_is_not_interrupted_by_it(
    reads: _Reads,
) -> None:
    interrupted: list[tuple[str, int]] = []  # (run, the reads made by then)
    watch = CancelWatch(lambda run: interrupted.append((run, len(reads.asked))), interval=0.01)
    reads.cancelled.add("a")

    def resumed() -> None:  # the run ends, and starts again (resumed) during the read
        watch.unwatch("a")
        watch.watch("a")
        reads.during = None

    reads.during = resumed
    watch.watch("a")
    await _until(lambda: interrupted)
    # the first read began before this execution: only a later one interrupts it
    assert interrupted[0][0] == "a" and interrupted[0][1] >= 2
    watch.stop()


async def test_a_failed_read_is_logged_and_the_watch_goes_on(
    reads: _Reads, caplog: pytest.LogCaptureFixture
) -> None:
    interrupted: list[str] = []
    watch = CancelWatch(interrupted.append, interval=0.01)
    reads.fail = True
    watch.watch("a")
    await _until(lambda: len(reads.asked) >= 2)
    assert "could not read which runs were cancelled" in caplog.text
    reads.fail = False
    reads.cancelled.add("a")
    await _until(lambda: interrupted)
    watch.stop()
