"""Traces and spans: what happened in a run, with timings, for any model provider.

The hot path only creates small objects and hands them to processors; turning
them into JSON (or records, :class:`TraceRecord` and :class:`SpanRecord`, for
exporters that want them), redacting secrets and writing them happens in the
background, in the processor's own thread.

The protocols of what traces and spans meet live here too, below the modules
that implement them: :class:`TraceProviderLike` (what a trace or span needs of
its provider), :class:`TraceProcessor` and :class:`TraceExporter`. This module
imports no other module of the package.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

__all__ = [
    "Span",
    "SpanKind",
    "SpanRecord",
    "Trace",
    "TraceExporter",
    "TraceProcessor",
    "TraceProviderLike",
    "TraceRecord",
    "current_span",
    "current_trace",
]

SpanKind = Literal["agent", "model", "tool", "handoff", "guardrail", "custom"]

_random_bits = random.Random().getrandbits

_current_trace: ContextVar[Trace | None] = ContextVar("ascent_trace", default=None)
_current_span: ContextVar[Span | None] = ContextVar("ascent_span", default=None)


def current_trace() -> Trace | None:
    """The trace this code runs in, if any."""
    return _current_trace.get()


def current_span() -> Span | None:
    """The innermost open span this code runs in, if any."""
    return _current_span.get()


class TraceRecord(BaseModel):
    """A trace as stored and exported."""

    model_config = ConfigDict(defer_build=True)

    trace_id: str
    workflow: str
    group_id: str | None = None
    started_at: float
    ended_at: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class SpanRecord(BaseModel):
    """A span as stored and exported. Times are seconds since the epoch."""

    model_config = ConfigDict(defer_build=True)

    trace_id: str
    span_id: str
    parent_id: str | None = None
    kind: SpanKind
    name: str
    started_at: float
    ended_at: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@runtime_checkable
class TraceProcessor(Protocol):
    """Receives traces and spans as they start and end. Must be fast and never raise."""

    def on_trace_start(self, trace: Trace) -> None: ...
    def on_trace_end(self, trace: Trace) -> None: ...
    def on_span_start(self, span: Span) -> None: ...
    def on_span_end(self, span: Span) -> None: ...
    def force_flush(self) -> None: ...
    def shutdown(self) -> None: ...


@runtime_checkable
class TraceExporter(Protocol):
    """Writes batches of records somewhere (a database, an OTLP collector, an HTTP API).

    Called from the batch processor's thread; records are already redacted.
    A trace may arrive twice (started, then ended): treat it as an upsert.
    """

    def export(self, records: Sequence[TraceRecord | SpanRecord]) -> None: ...


class _SpanHooks(Protocol):
    """The processors' span hooks, as the provider keeps them (looked up once)."""

    @property
    def span_start(self) -> Sequence[Callable[[Span], None]]: ...
    @property
    def span_end(self) -> Sequence[Callable[[Span], None]]: ...


class TraceProviderLike(Protocol):
    """What a trace or span needs of the provider that made it.

    :class:`~ascent.tracing.TraceProvider` is the one in use: whether tracing
    is on, its processors, new spans in a trace, and where starts and ends go.
    """

    @property
    def enabled(self) -> bool: ...
    @property
    def processors(self) -> Sequence[TraceProcessor]: ...
    def span(
        self,
        kind: SpanKind,
        name: str,
        *,
        trace: Trace,
        parent: Span | None,
        attributes: dict[str, Any] | None = None,
    ) -> Span: ...
    def trace_started(self, trace: Trace) -> None: ...
    def trace_ended(self, trace: Trace) -> None: ...

    # A span calls the processors' hooks itself (no call to the provider in between,
    # on every span): the hooks once looked up, or None until then, and the lookup.
    @property
    def _hooks(self) -> _SpanHooks | None: ...
    def _notify(self) -> _SpanHooks: ...


def _new_id(prefix: str) -> str:
    # ids need to be unique, not secret: getrandbits is ten times cheaper than uuid4,
    # and bytes.hex formats it twice as fast as an f-string
    return prefix + _random_bits(128).to_bytes(16, "big").hex()


def _new_trace_id() -> str:
    """``trace_`` and 32 hex digits: the clock's microseconds (the low 32 bits, which
    wrap every 71 minutes), then 96 random bits.

    Traces made one after another thus get neighbouring ids, and the trace store's
    indexes (by trace id, and spans by trace id) take each new trace next to the
    last one, on the few pages already being written, instead of on a random page
    each: several times less for the database to write. The 8 digits that
    ``ascent traces`` shows still differ from one trace to the next.
    """
    micros = time.time_ns() // 1000 & 0xFFFFFFFF
    return "trace_" + (micros << 96 | _random_bits(96)).to_bytes(16, "big").hex()


class Trace:
    """One workflow: a run, or several runs inside ``with trace("name"):``."""

    __slots__ = (
        "_token",
        "ended_at",
        "error",
        "group_id",
        "metadata",
        "provider",
        "started_at",
        "trace_id",
        "workflow",
    )

    def __init__(
        self,
        workflow: str,
        *,
        provider: TraceProviderLike,
        trace_id: str | None = None,
        group_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.workflow = workflow
        self.trace_id = trace_id or _new_trace_id()
        self.group_id = group_id
        self.metadata = metadata or {}
        self.started_at = 0.0
        self.ended_at: float | None = None
        self.error: str | None = None
        self.provider = provider
        self._token: Token[Trace | None] | None = None

    def start(self) -> Trace:
        self.started_at = time.time()
        self._token = _current_trace.set(self)
        self.provider.trace_started(self)
        return self

    def finish(self, error: BaseException | str | None = None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = time.time()
        if error is not None:
            self.error = _describe(error)
        if self._token is not None:
            try:
                _current_trace.reset(self._token)
            except ValueError:  # finished in another context than it started in
                _current_trace.set(None)
            self._token = None
        self.provider.trace_ended(self)

    def __enter__(self) -> Trace:
        return self.start()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.finish(error)

    def to_record(
        self, *, metadata: dict[str, Any] | None = None, error: str | None = None
    ) -> TraceRecord:
        """The trace as JSON-ready data; ``metadata`` and ``error`` given when the
        trace writer has already encoded (and redacted) them."""
        return TraceRecord.model_construct(
            trace_id=self.trace_id,
            workflow=self.workflow,
            group_id=self.group_id,
            started_at=self.started_at,
            ended_at=self.ended_at,
            metadata=_plain(self.metadata) if metadata is None else metadata,
            error=self.error if error is None else error,
        )


class Span:
    """A timed step inside a trace; attributes may be added until it ends."""

    __slots__ = (
        "_provider",
        "_token",
        "attributes",
        "ended_at",
        "error",
        "kind",
        "name",
        "parent_id",
        "span_id",
        "started_at",
        "trace_id",
    )

    def __init__(
        self,
        kind: SpanKind,
        name: str,
        *,
        provider: TraceProviderLike,
        trace_id: str,
        parent_id: str | None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self.kind: SpanKind = kind
        self.name = name
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.span_id = _new_id("span_")
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.started_at = 0.0
        self.ended_at: float | None = None
        self.error: str | None = None
        self._provider = provider
        self._token: Token[Span | None] | None = None

    def start(self, *, make_current: bool = True) -> Span:
        self.started_at = time.time()
        if make_current:
            self._token = _current_span.set(self)
        provider = self._provider  # the provider's hooks, called from here: no frame between
        for hook in (provider._hooks or provider._notify()).span_start:
            hook(self)
        return self

    def finish(self, error: BaseException | str | None = None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = time.time()
        if error is not None:
            self.error = _describe(error)
        if self._token is not None:
            # not contextlib.suppress: this runs for every span, and try costs nothing
            try:  # noqa: SIM105
                _current_span.reset(self._token)
            except ValueError:  # finished in another context than it started in
                pass
            self._token = None
        provider = self._provider
        for hook in (provider._hooks or provider._notify()).span_end:
            hook(self)

    def set(self, **attributes: Any) -> None:
        self.attributes.update(attributes)

    def __enter__(self) -> Span:
        return self.start()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.finish(error)

    def to_record(
        self, *, attributes: dict[str, Any] | None = None, error: str | None = None
    ) -> SpanRecord:
        """The span as JSON-ready data (items and settings become dicts);
        ``attributes`` and ``error`` given when already encoded (and redacted)."""
        return SpanRecord.model_construct(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_id=self.parent_id,
            kind=self.kind,
            name=self.name,
            started_at=self.started_at,
            ended_at=self.ended_at,
            attributes=_plain(self.attributes) if attributes is None else attributes,
            error=self.error if error is None else error,
        )


def _describe(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready data, converted by pydantic-core (fast, in C); None values of
    models are left out."""
    if not data:
        return {}
    plain: dict[str, Any] = to_jsonable_python(data, exclude_none=True, fallback=str)
    return plain
