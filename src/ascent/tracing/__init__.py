"""Tracing: a trace per run (or per ``with trace(...)`` block), spans for every step.

On by default for every model provider: traces go to the local trace store in
the project database (``ascent traces`` shows them). ``ASCENT_TRACING=off`` or
``RunConfig(tracing_disabled=True)`` turns it off.

Spans and their attributes (``*`` = left out with ``trace_include_sensitive_data=False``):

- ``agent`` (name: the agent): ``tools``, ``handoffs``, ``output_type``
- ``model`` (name: the model): ``model``, ``agent``, ``settings``, ``usage``
  (``requests``, ``input_tokens``, ``output_tokens``), ``response_id``,
  ``input_items`` (how many items were sent), ``instructions``*, ``input``* (the
  items new since the run's previous model call: the conversation is the
  concatenation of the spans' inputs and outputs), ``output``* (items as JSON)
- ``tool`` (name: the tool): ``call_id``, ``is_error``, ``arguments``*, ``output``*
- ``handoff`` (name: "a -> b"): ``from_agent``, ``to_agent``
- ``guardrail`` (name: the guardrail): ``stage`` (input, output, tool_input,
  tool_output), ``triggered``
- ``custom``: whatever the caller sets
"""

from __future__ import annotations

from typing import Any

from .processors import (
    BatchTraceProcessor,
    TraceProvider,
    add_trace_processor,
    flush_traces,
    get_trace_provider,
    set_trace_processors,
)
from .redaction import add_secret_values, add_sensitive_fields
from .spans import (
    Span,
    SpanKind,
    SpanRecord,
    Trace,
    TraceExporter,
    TraceProcessor,
    TraceRecord,
    current_span,
    current_trace,
)

__all__ = [
    "BatchTraceProcessor",
    "Span",
    "SpanKind",
    "SpanRecord",
    "Trace",
    "TraceExporter",
    "TraceProcessor",
    "TraceProvider",
    "TraceRecord",
    "add_secret_values",
    "add_sensitive_fields",
    "add_trace_processor",
    "current_span",
    "current_trace",
    "custom_span",
    "flush_traces",
    "get_trace_provider",
    "set_trace_processors",
    "trace",
]


_UNRECORDED = TraceProvider()
_UNRECORDED.set_processors([])


def trace(
    workflow: str,
    *,
    trace_id: str | None = None,
    group_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Trace:
    """A trace spanning several runs: ``with trace("Support flow"): ...``.

    Runs inside the block add their spans to it instead of starting their own.
    With tracing off, the block records nothing.
    """
    provider = get_trace_provider()
    return (provider if provider.enabled else _UNRECORDED).trace(
        workflow, trace_id=trace_id, group_id=group_id, metadata=metadata
    )


def custom_span(name: str, **attributes: Any) -> Span:
    """A span of your own inside the current trace: ``with custom_span("fetch"):``.

    Its parent is the innermost open span (a tool's span, inside a tool). Outside
    any trace (or with tracing off) it records nothing.
    """
    provider = get_trace_provider()
    active = current_trace()
    if active is None or not provider.enabled:
        provider = _UNRECORDED
        active = provider.trace(name)
    return active.provider.span(
        "custom", name, trace=active, parent=current_span(), attributes=dict(attributes)
    )
