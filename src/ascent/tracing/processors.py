"""Trace processors: where finished traces and spans go.

The default sends them to a :class:`BatchTraceProcessor` that writes to the
local trace store (the project database) from a background thread, so a run
never waits for a write. Add processors with :func:`add_trace_processor`,
replace them all with :func:`set_trace_processors`.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from ._encoding import Encoded, EncodedExporter, encode, record
from .redaction import secret_values
from .spans import Span, Trace, TraceExporter, TraceProcessor

__all__ = [
    "BatchTraceProcessor",
    "TraceExporter",
    "TraceProcessor",
    "TraceProvider",
    "add_trace_processor",
    "flush_traces",
    "get_trace_provider",
    "set_trace_processors",
]

logger = logging.getLogger("ascent.tracing")

_OFF = frozenset({"off", "0", "false", "no"})


class BatchTraceProcessor:
    """Queues finished spans and traces and exports them in batches from a thread.

    The queue is bounded: when it is full, new items are dropped (and counted in
    ``dropped``) rather than slowing the run. Pending items are flushed at exit.
    """

    def __init__(
        self,
        exporter: TraceExporter,
        *,
        max_queue: int = 10_000,
        max_batch: int = 500,
        interval: float = 0.5,
    ) -> None:
        self.exporter = exporter
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.interval = interval
        self.dropped = 0
        self._queue: collections.deque[Trace | Span] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _encode(items: list[Trace | Span]) -> list[Encoded]:
        secrets = secret_values()
        try:
            return encode(items, secrets)
        except Exception:  # find the item that cannot be encoded; drop it, not the batch
            batch: list[Encoded] = []
            for item in items:
                try:
                    batch.extend(encode([item], secrets))
                except Exception:
                    logger.exception("could not record a trace item")
            return batch

    def _export(self, batch: list[Encoded]) -> None:
        exporter = self.exporter
        if isinstance(exporter, EncodedExporter):  # the local store: JSON as it is
            exporter.export_encoded(batch)
        else:
            exporter.export([record(encoded) for encoded in batch])

    # ---------------------------------------------------------------- hot path

    def _put(self, item: Any) -> None:
        queue = self._queue
        size = len(queue)
        if size >= self.max_queue:
            self.dropped += 1
            return
        queue.append(item)
        if size + 1 == self.max_batch:  # on crossing only: the writer drains until empty
            self._wake.set()
        if self._thread is None:
            self._start_thread()

    # each is _put itself, not a method calling it: one Python call less per span
    on_trace_start = on_trace_end = on_span_end = _put

    def on_span_start(self, span: Span) -> None:
        pass

    # ------------------------------------------------------------- background

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._work, name="ascent-trace-export", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._drain()
            if self._stopped:
                self._drain()
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            with self._idle:
                self._busy = True
            items: list[Trace | Span] = []
            while queue and len(items) < self.max_batch:
                items.append(queue.popleft())
            batch = self._encode(items)
            if batch:
                try:
                    self._export(batch)
                except Exception:
                    logger.exception("trace export failed; %d records lost", len(batch))
        with self._idle:
            self._busy = False
            self._idle.notify_all()

    def force_flush(self, timeout: float = 10.0) -> None:
        """Export everything queued so far; returns when done (or after ``timeout``)."""
        if self._thread is None:
            self._drain()
            return
        self._wake.set()
        with self._idle:
            self._idle.wait_for(lambda: not self._queue and not self._busy, timeout)

    def shutdown(self) -> None:
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        else:
            self._drain()


class TraceProvider:
    """Holds the processors and creates traces and spans.

    Tracing is on unless ``ASCENT_TRACING=off``; until processors are set, the
    first trace installs the default one (the local trace store).
    """

    def __init__(self) -> None:
        self._processors: list[TraceProcessor] | None = None
        self._hooks: _Hooks | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        setting = os.environ.get("ASCENT_TRACING")  # read on every run: tests flip it
        return setting is None or setting.strip().lower() not in _OFF

    @property
    def processors(self) -> list[TraceProcessor]:
        processors = self._processors
        if processors is None:
            with self._lock:
                if self._processors is None:
                    # imported on first use, not at `import ascent` (a few ms):
                    # with tracing off, or other processors, it is never needed
                    from .store import default_exporter

                    self._processors = [BatchTraceProcessor(default_exporter())]
                processors = self._processors
        return processors

    def set_processors(self, processors: Sequence[TraceProcessor] | None) -> None:
        """Replace the processors (``None`` restores the default on next use).

        Replaced processors are not shut down: whoever made them owns them.
        """
        self._processors = None if processors is None else list(processors)
        self._hooks = None

    def add_processor(self, processor: TraceProcessor) -> None:
        self._processors = [*self.processors, processor]
        self._hooks = None

    def _notify(self) -> _Hooks:
        hooks = self._hooks
        if hooks is None:
            hooks = self._hooks = _Hooks(self.processors)
        return hooks

    def trace(
        self,
        workflow: str,
        *,
        trace_id: str | None = None,
        group_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Trace:
        return Trace(
            workflow, provider=self, trace_id=trace_id, group_id=group_id, metadata=metadata
        )

    def span(
        self,
        kind: Any,
        name: str,
        *,
        trace: Trace,
        parent: Span | None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        return Span(
            kind,
            name,
            provider=self,
            trace_id=trace.trace_id,
            parent_id=parent.span_id if parent is not None else None,
            attributes=attributes,
        )

    # notifications from traces and spans (on every span: a loop over bound methods)
    def trace_started(self, trace: Trace) -> None:
        for hook in (self._hooks or self._notify()).trace_start:
            hook(trace)

    def trace_ended(self, trace: Trace) -> None:
        for hook in (self._hooks or self._notify()).trace_end:
            hook(trace)

    def span_started(self, span: Span) -> None:
        for hook in (self._hooks or self._notify()).span_start:
            hook(span)

    def span_ended(self, span: Span) -> None:
        for hook in (self._hooks or self._notify()).span_end:
            hook(span)

    def flush(self) -> None:
        for processor in self._processors or []:
            processor.force_flush()

    def shutdown(self) -> None:
        for processor in self._processors or []:
            processor.shutdown()


class _Hooks:
    """The processors' bound methods, looked up once rather than on every span."""

    __slots__ = ("span_end", "span_start", "trace_end", "trace_start")

    def __init__(self, processors: Sequence[TraceProcessor]) -> None:
        self.trace_start = tuple(p.on_trace_start for p in processors)
        self.trace_end = tuple(p.on_trace_end for p in processors)
        # the batch processor ignores span starts: no call at all for it
        self.span_start = tuple(
            p.on_span_start
            for p in processors
            if type(p).on_span_start is not BatchTraceProcessor.on_span_start
        )
        self.span_end = tuple(p.on_span_end for p in processors)


_provider = TraceProvider()
atexit.register(_provider.shutdown)


def get_trace_provider() -> TraceProvider:
    return _provider


def add_trace_processor(processor: TraceProcessor) -> None:
    """Send traces to ``processor`` too (beside the local store)."""
    _provider.add_processor(processor)


def set_trace_processors(processors: Sequence[TraceProcessor]) -> None:
    """Send traces only to these processors (an empty list stops recording)."""
    _provider.set_processors(processors)


def flush_traces() -> None:
    """Write out every trace and span recorded so far (e.g. before a process exits)."""
    _provider.flush()
