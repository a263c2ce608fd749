"""The batch processor: never blocks a run, bounded, flushed at exit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ascent.tracing import BatchTraceProcessor, SpanRecord, TraceProvider, TraceRecord
from ascent.tracing.store import SQLTraceStore


class SlowExporter:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.records: list[TraceRecord | SpanRecord] = []

    def export(self, records: Sequence[TraceRecord | SpanRecord]) -> None:
        self.release.wait(5)
        self.records.extend(records)


def test_a_stuck_exporter_neither_blocks_nor_grows_without_bound() -> None:
    exporter = SlowExporter()
    processor = BatchTraceProcessor(exporter, max_queue=10, max_batch=5, interval=0.01)
    provider = TraceProvider()
    provider.set_processors([processor])
    started = time.perf_counter()
    with provider.trace("busy") as trace:
        for n in range(100):
            with provider.span("custom", f"s{n}", trace=trace, parent=None):
                pass
    assert time.perf_counter() - started < 1  # the run never waited for the exporter
    assert processor.dropped > 0
    exporter.release.set()
    processor.force_flush()
    assert 0 < len(exporter.records) <= 100 - processor.dropped + 2
    processor.shutdown()


def test_force_flush_exports_everything_queued() -> None:
    exporter = SlowExporter()
    exporter.release.set()
    processor = BatchTraceProcessor(exporter, interval=10)  # no timer flush in this test
    provider = TraceProvider()
    provider.set_processors([processor])
    with provider.trace("t") as trace, provider.span("custom", "one", trace=trace, parent=None):
        pass
    processor.force_flush()
    kinds = sorted(type(r).__name__ for r in exporter.records)
    assert kinds == ["SpanRecord", "TraceRecord", "TraceRecord"]  # trace at start and end
    processor.shutdown()


def test_traces_are_written_when_the_process_exits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = (
        "from ascent import Agent, Runner\n"
        "from ascent.testing import ScriptedModel\n"
        "Runner.run_sync(Agent(name='a', model=ScriptedModel(['bye'])), 'hi')\n"
    )
    env = {"ASCENT_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    [summary] = SQLTraceStore(url).list_traces()
    assert summary.agents == ["a"] and summary.turns == 1 and summary.ended_at is not None
