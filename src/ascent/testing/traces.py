"""A trace processor that keeps everything in memory, for tests of traced code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..tracing import Span, SpanRecord, Trace, TraceRecord, get_trace_provider

__all__ = ["TraceRecorder", "recording_traces"]


class TraceRecorder:
    """Collects finished traces and spans as records, in the order they end."""

    def __init__(self) -> None:
        self.traces: list[TraceRecord] = []
        self.spans: list[SpanRecord] = []

    def on_trace_start(self, trace: Trace) -> None:
        pass

    def on_trace_end(self, trace: Trace) -> None:
        self.traces.append(trace.to_record())

    def on_span_start(self, span: Span) -> None:
        pass

    def on_span_end(self, span: Span) -> None:
        self.spans.append(span.to_record())

    def force_flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def tree(self, trace_id: str | None = None) -> list[tuple[int, str, str]]:
        """``(depth, kind, name)`` of each span, parents before children, in start order."""
        spans = [s for s in self.spans if trace_id is None or s.trace_id == trace_id]
        children: dict[str | None, list[SpanRecord]] = {}
        for span in sorted(spans, key=lambda s: s.started_at):
            children.setdefault(span.parent_id, []).append(span)
        known = {s.span_id for s in spans}
        roots = [s for s in spans if s.parent_id is None or s.parent_id not in known]
        out: list[tuple[int, str, str]] = []

        def walk(span: SpanRecord, depth: int) -> None:
            out.append((depth, span.kind, span.name))
            for child in children.get(span.span_id, []):
                walk(child, depth + 1)

        for root in sorted(roots, key=lambda s: s.started_at):
            walk(root, 0)
        return out


@contextmanager
def recording_traces() -> Iterator[TraceRecorder]:
    """Send traces only to a fresh :class:`TraceRecorder` inside the block."""
    provider = get_trace_provider()
    previous = provider._processors
    recorder = TraceRecorder()
    provider.set_processors([recorder])
    try:
        yield recorder
    finally:
        provider.set_processors(previous)
