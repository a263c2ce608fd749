"""OpenTelemetry export: Ascent traces as OTel spans in the GenAI semantic conventions.

So traces land in Jaeger, Phoenix, Langfuse or any OTLP collector, with the
``gen_ai.*`` attributes those tools understand::

    from ascent.tracing.otel import install_opentelemetry
    install_opentelemetry()            # the global OTel TracerProvider

Ascent spans end before their records are built (in a background thread, where
secrets are redacted), so this processor buffers each trace's finished spans and
writes them when the trace ends, parents before children, with the original
start and end times. A trace's root span is named after its workflow; agents,
model calls and tools become ``invoke_agent``, ``chat`` and ``execute_tool``
spans. A trace started inside an active OTel span (an instrumented HTTP request,
say) nests under it.

Needs the ``otel`` extra: ``pip install 'ascent-agents[otel]'``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..errors import UserError
from ._encoding import json_value
from .processors import BatchTraceProcessor, add_trace_processor
from .redaction import redact, redact_value
from .spans import Span, SpanRecord, Trace, TraceRecord

try:
    from opentelemetry import trace as otel_trace
    from opentelemetry.context import Context
    from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import SpanKind as OtelSpanKind
    from opentelemetry.util.types import AttributeValue
except ImportError as exc:  # pragma: no cover - exercised by simulating the missing extra
    raise UserError(
        "OpenTelemetry export needs the 'otel' extra: pip install 'ascent-agents[otel]'"
    ) from exc

__all__ = ["OpenTelemetryProcessor", "install_opentelemetry"]

logger = logging.getLogger("ascent.tracing")

_INSTRUMENTATION = "ascent"

# Provider prefixes of Ascent model names -> gen_ai.provider.name.
_PROVIDERS = {"openai": "openai", "openai-chat": "openai", "litellm": "litellm"}

_SETTINGS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}
_USAGE = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}
_ERROR_TYPE = re.compile(r"^([A-Za-z_][\w.]*): ")


# ------------------------------------------------------------------ mapping


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _attribute(value: Any) -> AttributeValue | None:
    """A value OTel accepts: a scalar, a homogeneous list of scalars, else JSON text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return items
        if all(isinstance(item, bool) for item in items):
            return items
        if all(isinstance(item, int) and not isinstance(item, bool) for item in items):
            return items
        if all(isinstance(item, int | float) and not isinstance(item, bool) for item in items):
            return [float(item) for item in items]
    return _json(value)


def split_model_name(name: str) -> tuple[str, str]:
    """``"openai-chat:qwen2.5"`` -> ``("openai", "qwen2.5")``: provider and model."""
    if name == "offline":
        return "offline", "offline"
    prefix, sep, model = name.partition(":")
    if not sep:
        return "_OTHER", name  # a custom Model without a provider prefix
    return _PROVIDERS.get(prefix, prefix), model


def _arguments(text: Any) -> Any:
    # Tool-call arguments are JSON text inside items: parse them so the
    # redaction of sensitive keys reaches inside (defence in depth).
    parsed = json_value(text)
    return redact_value(parsed)


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            parts.append({"type": "text", "content": str(part)})
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "content": part.get("text", "")})
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": part.get("refusal", "")})
        elif kind == "input_image" and part.get("image_url"):
            parts.append({"type": "uri", "modality": "image", "uri": part["image_url"]})
        elif kind == "input_image" and part.get("file_id"):
            parts.append({"type": "file", "modality": "image", "file_id": part["file_id"]})
        else:
            parts.append({k: v for k, v in part.items() if v is not None and k != "file_data"})
    return parts


def _messages(items: Any, *, output: bool) -> list[dict[str, Any]]:
    """Ascent items as GenAI semconv messages (``role`` + typed ``parts``)."""
    items = json_value(items)
    if isinstance(items, str):
        items = [{"type": "message", "role": "assistant" if output else "user", "content": items}]
    messages: list[dict[str, Any]] = []

    def add(role: str, *parts: dict[str, Any]) -> None:
        # One assistant turn (text, tool calls, reasoning) is one message.
        if role == "assistant" and messages and messages[-1]["role"] == "assistant":
            messages[-1]["parts"].extend(parts)
        elif parts:
            messages.append({"role": role, "parts": list(parts)})

    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            add("system" if role == "developer" else role, *_content_parts(item.get("content")))
        elif kind == "function_call":
            call = {
                "type": "tool_call",
                "id": item.get("call_id"),
                "name": item.get("name"),
                "arguments": _arguments(item.get("arguments")),
            }
            add("assistant", call)
        elif kind == "function_call_output":
            response = {
                "type": "tool_call_response",
                "id": item.get("call_id"),
                "response": item.get("output"),
            }
            messages.append({"role": "tool", "parts": [response]})
        elif kind == "reasoning":
            texts = [
                str(part.get("text", ""))
                for part in [*(item.get("summary") or []), *(item.get("content") or [])]
                if isinstance(part, dict)
            ]
            add("assistant", {"type": "reasoning", "content": "\n".join(texts)})
        else:  # hosted tool calls and other provider items
            add("assistant", {k: v for k, v in item.items() if v is not None and k != "agent"})
    if output:
        for message in messages:
            calls = any(part.get("type") == "tool_call" for part in message["parts"])
            message["finish_reason"] = "tool_call" if calls else "stop"
    return messages


def _error_type(error: str) -> str:
    match = _ERROR_TYPE.match(error)
    return match.group(1) if match else "_OTHER"


@dataclass
class _Mapped:
    name: str
    kind: OtelSpanKind
    attributes: dict[str, AttributeValue]
    error: str | None


def _put(target: dict[str, AttributeValue], key: str, value: Any) -> None:
    converted = _attribute(value)
    if converted is not None:
        target[key] = converted


def map_span(record: SpanRecord, *, group_id: str | None = None) -> _Mapped:
    """An Ascent span record as an OTel span name, kind and ``gen_ai.*`` attributes.

    Attributes with no semantic-convention home keep their data as
    ``ascent.<kind>.<attribute>``.
    """
    rest = dict(record.attributes)
    out: dict[str, AttributeValue] = {
        "ascent.span.kind": record.kind,
        "ascent.span_id": record.span_id,
        "ascent.trace_id": record.trace_id,
    }
    kind = OtelSpanKind.INTERNAL
    error = record.error
    name = record.name
    if record.kind == "agent":
        name = f"invoke_agent {record.name}"
        out["gen_ai.operation.name"] = "invoke_agent"
        out["gen_ai.agent.name"] = record.name
        _put(out, "gen_ai.conversation.id", group_id)
    elif record.kind == "model":
        kind = OtelSpanKind.CLIENT
        provider, model = split_model_name(str(rest.pop("model", None) or record.name))
        name = f"chat {model}"
        out["gen_ai.operation.name"] = "chat"
        out["gen_ai.request.model"] = model
        out["gen_ai.provider.name"] = provider
        out["gen_ai.system"] = provider  # the older name, still read by many backends
        _put(out, "gen_ai.agent.name", rest.pop("agent", None))
        _put(out, "gen_ai.conversation.id", group_id)
        _put(out, "gen_ai.response.id", rest.pop("response_id", None))
        settings = rest.pop("settings", None)
        if isinstance(settings, dict):
            for key, value in settings.items():
                _put(out, _SETTINGS.get(key, f"ascent.model.settings.{key}"), value)
        usage = rest.pop("usage", None)
        if isinstance(usage, dict):
            for key, value in usage.items():
                _put(out, _USAGE.get(key, f"ascent.model.usage.{key}"), value)
        instructions = rest.pop("instructions", None)
        if instructions:
            out["gen_ai.system_instructions"] = _json(
                [{"type": "text", "content": str(instructions)}]
            )
        if rest.get("input") is not None:
            out["gen_ai.input.messages"] = _json(_messages(rest.pop("input"), output=False))
        if rest.get("output") is not None:
            out["gen_ai.output.messages"] = _json(_messages(rest.pop("output"), output=True))
    elif record.kind == "tool":
        name = f"execute_tool {record.name}"
        out["gen_ai.operation.name"] = "execute_tool"
        out["gen_ai.tool.name"] = record.name
        out["gen_ai.tool.type"] = "function"
        _put(out, "gen_ai.tool.call.id", rest.pop("call_id", None))
        for key, target in (("arguments", "arguments"), ("output", "result")):
            value = rest.pop(key, None)
            if value is not None:
                out[f"gen_ai.tool.call.{target}"] = (
                    value if isinstance(value, str) else _json(value)
                )
        if rest.get("is_error") and error is None:
            error = "the tool reported an error"
    elif record.kind in ("handoff", "guardrail"):
        name = f"{record.kind} {record.name}"
        out[f"ascent.{record.kind}.name"] = record.name
    for key, value in rest.items():
        _put(out, f"ascent.{record.kind}.{key}", value)
    if error is not None:
        out["error.type"] = _error_type(error)
    return _Mapped(name=name, kind=kind, attributes=out, error=error)


def _fail(span: OtelSpan, error: str, when: int) -> None:
    span.set_status(Status(StatusCode.ERROR, error))
    span.add_event(
        "exception",
        {"exception.type": _error_type(error), "exception.message": error},
        timestamp=when,
    )


def _trace_attributes(record: TraceRecord) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": record.workflow,
        "ascent.trace_id": record.trace_id,
    }
    if record.group_id:
        out["gen_ai.conversation.id"] = record.group_id
        out["ascent.group_id"] = record.group_id
    for key, value in record.metadata.items():
        _put(out, f"ascent.metadata.{key}", value)
    return out


# ------------------------------------------------------------------ writing


@dataclass
class _TraceState:
    """One Ascent trace on its way to OTel: its root span and buffered spans."""

    base: Context  # where the root goes: under an enclosing OTel span, or nowhere
    trace: Trace | None  # None: the trace never started while this processor listened
    root: OtelSpan | None = None
    root_context: Context | None = None
    spans: list[SpanRecord] = field(default_factory=list)
    contexts: dict[str, Context] = field(default_factory=dict)
    group_id: str | None = None
    root_start: float = 0.0
    last_end: float = 0.0


class _SpanWriter:
    """Receives redacted records (in the batch thread) and writes OTel spans.

    Only ended traces come through the batch; trace starts are noted directly
    (:meth:`started`), because a queued trace is turned into a record only when
    the batch drains, by which time it may well have ended.
    """

    def __init__(
        self, tracer: otel_trace.Tracer, *, max_open_traces: int, max_buffered_spans: int
    ) -> None:
        self.tracer = tracer
        self.max_open_traces = max(1, max_open_traces)
        self.max_buffered_spans = max(1, max_buffered_spans)
        self._started: OrderedDict[str, tuple[Trace, SpanContext | None]] = OrderedDict()
        self._started_lock = threading.Lock()
        self._open: OrderedDict[str, _TraceState] = OrderedDict()
        self._done: OrderedDict[str, _TraceState] = OrderedDict()  # for late spans
        self._lock = threading.RLock()

    def started(self, trace: Trace, outer: SpanContext | None) -> None:
        """Called on the run's hot path: just remember the trace."""
        with self._started_lock:
            self._started[trace.trace_id] = (trace, outer)
            if len(self._started) > 10 * self.max_open_traces:
                self._started.popitem(last=False)  # a trace whose end never came

    def export(self, records: Sequence[TraceRecord | SpanRecord]) -> None:
        with self._lock:
            for record in records:
                try:
                    if isinstance(record, TraceRecord):
                        self._on_trace_end(record)
                    else:
                        self._on_span(record)
                except Exception:  # one bad record must not lose the others
                    logger.exception("could not write a span to OpenTelemetry")

    def close(self) -> None:
        """Write out every trace still open (at shutdown), marked incomplete."""
        with self._lock:
            with self._started_lock:
                running = list(self._started)
            for trace_id in running:
                if trace_id not in self._open:
                    self._state(trace_id)
            while self._open:
                self._finish(next(iter(self._open)), None)

    # ------------------------------------------------------------ records

    def _state(self, trace_id: str) -> _TraceState:
        state = self._open.get(trace_id)
        if state is None:
            with self._started_lock:
                trace, outer = self._started.pop(trace_id, (None, None))
            base = Context()
            if outer is not None:
                base = otel_trace.set_span_in_context(NonRecordingSpan(outer), base)
            state = self._open[trace_id] = _TraceState(base=base, trace=trace)
            while len(self._open) > self.max_open_traces:
                self._finish(next(iter(self._open)), None)
        return state

    def _on_trace_end(self, record: TraceRecord) -> None:
        if record.trace_id in self._done:
            return  # written already (its spans came without a trace start)
        self._state(record.trace_id)
        self._finish(record.trace_id, record)

    def _on_span(self, record: SpanRecord) -> None:
        done = self._done.get(record.trace_id)
        if done is not None:  # a span that ended after its trace was written
            parent = done.contexts.get(record.parent_id or "", done.root_context or done.base)
            done.contexts[record.span_id] = self._write(record, parent, done.group_id)
            return
        state = self._state(record.trace_id)
        state.spans.append(record)
        state.last_end = max(state.last_end, record.ended_at or record.started_at)
        if state.trace is None and record.parent_id is None:
            # The trace never started here (the processor came mid-trace, or a
            # span outside any trace): a top-level span completes a tree.
            self._write_buffered(state)
            self._retire(record.trace_id, state)
        elif len(state.spans) >= self.max_buffered_spans:
            # A very long trace: write what we have under an early root.
            if state.root is None and state.trace is not None:
                self._start_root(state, redact(state.trace.to_record()))
            self._write_buffered(state)

    # ------------------------------------------------------------ writing

    def _start_root(self, state: _TraceState, record: TraceRecord) -> None:
        state.group_id = record.group_id
        state.root_start = record.started_at
        state.root = self.tracer.start_span(
            record.workflow,
            context=state.base,
            kind=OtelSpanKind.INTERNAL,
            attributes=_trace_attributes(record),
            start_time=_ns(record.started_at),
        )
        state.root_context = otel_trace.set_span_in_context(state.root, Context())

    def _finish(self, trace_id: str, record: TraceRecord | None) -> None:
        """Write a trace: its root, then its spans under it; ``None``: cut short."""
        state = self._open[trace_id]
        incomplete = record is None
        if record is None and state.trace is not None:
            record = redact(state.trace.to_record())
        if state.root is None and record is not None:
            self._start_root(state, record)
        self._write_buffered(state)
        root = state.root
        if root is not None and record is not None:
            root.set_attributes(_trace_attributes(record))
            ended = None if incomplete else record.ended_at
            end = _ns(max(ended or 0.0, state.last_end, state.root_start))
            if incomplete:
                root.set_attribute("ascent.trace.incomplete", True)
            elif record.error:
                _fail(root, record.error, end)
            root.end(end_time=end)
        self._retire(trace_id, state)

    def _retire(self, trace_id: str, state: _TraceState) -> None:
        self._open.pop(trace_id, None)
        self._done[trace_id] = state
        while len(self._done) > 256:
            self._done.popitem(last=False)

    def _write_buffered(self, state: _TraceState) -> None:
        """Write buffered spans parents first, siblings in start order."""
        spans, state.spans = state.spans, []
        present = {span.span_id for span in spans}
        children: defaultdict[str | None, list[SpanRecord]] = defaultdict(list)
        for span in spans:
            children[span.parent_id if span.parent_id in present else None].append(span)
        default = state.root_context or state.base
        stack = sorted(children[None], key=lambda s: s.started_at, reverse=True)
        while stack:
            span = stack.pop()
            parent = state.contexts.get(span.parent_id or "", default)
            state.contexts[span.span_id] = self._write(span, parent, state.group_id)
            stack.extend(
                sorted(children.get(span.span_id, []), key=lambda s: s.started_at, reverse=True)
            )

    def _write(self, record: SpanRecord, parent: Context, group_id: str | None) -> Context:
        mapped = map_span(record, group_id=group_id)
        end = _ns(record.ended_at if record.ended_at is not None else record.started_at)
        span = self.tracer.start_span(
            mapped.name,
            context=parent,
            kind=mapped.kind,
            attributes=mapped.attributes,
            start_time=_ns(record.started_at),
        )
        if mapped.error is not None:
            _fail(span, mapped.error, end)
        span.end(end_time=end)
        return otel_trace.set_span_in_context(span, Context())


# ---------------------------------------------------------------- processor


class OpenTelemetryProcessor:
    """A trace processor that writes Ascent traces as OpenTelemetry spans.

    ``tracer_provider`` defaults to the global one (looked up lazily, so it may
    be configured after this processor is made). Records are built, redacted and
    mapped in a background thread; a trace's spans reach OTel when the trace
    ends (:meth:`force_flush` waits for that work, then flushes the provider).
    """

    def __init__(
        self,
        tracer_provider: otel_trace.TracerProvider | None = None,
        *,
        max_open_traces: int = 1_000,
        max_buffered_spans: int = 10_000,
        interval: float = 0.5,
    ) -> None:

        self.tracer_provider = tracer_provider
        tracer = otel_trace.get_tracer(
            _INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )
        self._writer = _SpanWriter(
            tracer, max_open_traces=max_open_traces, max_buffered_spans=max_buffered_spans
        )
        self._batch = BatchTraceProcessor(self._writer, interval=interval)

    def on_trace_start(self, trace: Trace) -> None:
        # Capture the caller's active OTel span now: the root is written later,
        # from another thread, and should still nest under it.
        outer = otel_trace.get_current_span().get_span_context()
        self._writer.started(trace, outer if outer.is_valid else None)

    def on_trace_end(self, trace: Trace) -> None:
        self._batch.on_trace_end(trace)

    def on_span_start(self, span: Span) -> None:
        pass

    def on_span_end(self, span: Span) -> None:
        self._batch.on_span_end(span)

    def force_flush(self) -> None:
        self._batch.force_flush()
        self._flush_provider()

    def shutdown(self) -> None:
        """Write everything (open traces too, marked incomplete); the provider stays up."""
        self._batch.shutdown()
        self._writer.close()
        self._flush_provider()

    def _flush_provider(self) -> None:
        provider = self.tracer_provider or otel_trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if callable(flush):
            try:
                flush()
            except Exception:
                logger.exception("flushing the OpenTelemetry tracer provider failed")


def install_opentelemetry(
    tracer_provider: otel_trace.TracerProvider | None = None,
) -> OpenTelemetryProcessor:
    """Send Ascent traces to OpenTelemetry too (beside the local trace store)."""
    processor = OpenTelemetryProcessor(tracer_provider)
    add_trace_processor(processor)
    return processor
