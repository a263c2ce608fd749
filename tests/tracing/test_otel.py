"""The OpenTelemetry processor: Ascent traces as GenAI-semconv spans (in-memory exporter)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ascent.errors import UserError
from ascent.items import FunctionCall, FunctionCallOutput, Message, OutputText
from ascent.tracing import processors
from ascent.tracing.otel import OpenTelemetryProcessor, install_opentelemetry, split_model_name
from ascent.tracing.processors import TraceProvider
from ascent.tracing.spans import Span

SECRET_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2


@dataclass
class Setup:
    provider: TraceProvider
    processor: OpenTelemetryProcessor
    exporter: InMemorySpanExporter
    tracer_provider: TracerProvider

    def finished(self) -> dict[str, ReadableSpan]:
        self.processor.force_flush()
        spans = self.exporter.get_finished_spans()
        by_name = {span.name: span for span in spans}
        assert len(by_name) == len(spans), "span names are unique in these tests"
        return by_name


@pytest.fixture
def otel() -> Iterator[Setup]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    processor = OpenTelemetryProcessor(tracer_provider)
    provider = TraceProvider()  # private: the global provider stays untouched
    provider.set_processors([processor])
    yield Setup(provider, processor, exporter, tracer_provider)
    provider.set_processors([])  # shuts the processor down
    tracer_provider.shutdown()


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def _run_support_flow(setup: Setup) -> dict[str, Span]:
    """A trace with every span kind; returns the Ascent spans by kind."""
    tp = setup.provider
    made: dict[str, Span] = {}
    with tp.trace("Support flow", group_id="conv-42", metadata={"user": "u-1"}) as trace:
        agent_attrs = {"tools": ["lookup_order"], "handoffs": ["billing"], "output_type": None}
        with tp.span("agent", "triage", trace=trace, parent=None, attributes=agent_attrs) as agent:
            made["agent"] = agent
            guard_attrs = {"stage": "input", "triggered": False}
            with tp.span(
                "guardrail", "no_pii", trace=trace, parent=agent, attributes=guard_attrs
            ) as guardrail:
                made["guardrail"] = guardrail
            model_attrs = {
                "model": "openai-chat:gpt-4.1-mini",
                "agent": "triage",
                "settings": {"temperature": 0.2, "top_p": 0.9, "max_tokens": 256, "seed": 7},
                "instructions": "Be brief.",
                "input": [Message(role="user", content="Where is order 17?")],
            }
            with tp.span("model", "gpt-4.1-mini", trace=trace, parent=agent) as model:
                model.set(**model_attrs)
                made["model"] = model
                model.set(
                    usage={"requests": 1, "input_tokens": 31, "output_tokens": 9},
                    response_id="resp_123",
                    output=[
                        Message(role="assistant", content=[OutputText(text="Let me look.")]),
                        FunctionCall(call_id="call_1", name="lookup_order", arguments='{"id":17}'),
                    ],
                )
            tool_attrs = {
                "call_id": "call_1",
                "is_error": False,
                "arguments": '{"id": 17}',
                "output": '{"status": "shipped"}',
            }
            with tp.span(
                "tool", "lookup_order", trace=trace, parent=agent, attributes=tool_attrs
            ) as tool:
                made["tool"] = tool
                with tp.span(
                    "custom", "fetch", trace=trace, parent=tool, attributes={"source": "db"}
                ) as custom:
                    made["custom"] = custom
            handoff_attrs = {"from_agent": "triage", "to_agent": "billing"}
            with tp.span(
                "handoff", "triage -> billing", trace=trace, parent=agent, attributes=handoff_attrs
            ) as handoff:
                made["handoff"] = handoff
    return made


def test_every_span_kind_becomes_a_genai_span_in_tree_order(otel: Setup) -> None:
    made = _run_support_flow(otel)
    spans = otel.finished()
    assert set(spans) == {
        "Support flow",
        "invoke_agent triage",
        "guardrail no_pii",
        "chat gpt-4.1-mini",
        "execute_tool lookup_order",
        "fetch",
        "handoff triage -> billing",
    }
    root = spans["Support flow"]
    agent = spans["invoke_agent triage"]
    model = spans["chat gpt-4.1-mini"]
    tool = spans["execute_tool lookup_order"]
    assert root.parent is None
    assert _parent(agent) == _id(root)
    for child in ("chat gpt-4.1-mini", "execute_tool lookup_order", "guardrail no_pii"):
        assert _parent(spans[child]) == _id(agent)
    assert _parent(spans["handoff triage -> billing"]) == _id(agent)
    assert _parent(spans["fetch"]) == _id(tool)
    assert len({_trace_id(span) for span in spans.values()}) == 1

    # The root carries the workflow.
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.workflow.name"] == "Support flow"
    assert root.attributes["gen_ai.conversation.id"] == "conv-42"
    assert root.attributes["ascent.metadata.user"] == "u-1"

    # Kinds: model calls are client calls, everything else is internal.
    assert model.kind is SpanKind.CLIENT
    assert {span.kind for name, span in spans.items() if span is not model} == {SpanKind.INTERNAL}

    # Timings are the Ascent ones, in nanoseconds; the root covers its children.
    for kind, name in (("agent", "invoke_agent triage"), ("tool", "execute_tool lookup_order")):
        ascent_span = made[kind]
        assert ascent_span.ended_at is not None
        assert spans[name].start_time == round(ascent_span.started_at * 1e9)
        assert spans[name].end_time == round(ascent_span.ended_at * 1e9)
    assert root.start_time is not None and agent.start_time is not None
    assert root.end_time is not None and agent.end_time is not None
    assert root.start_time <= agent.start_time <= agent.end_time <= root.end_time
    assert agent.attributes is not None
    assert agent.attributes["ascent.span_id"] == made["agent"].span_id


def test_genai_attributes(otel: Setup) -> None:
    _run_support_flow(otel)
    spans = otel.finished()

    agent = dict(spans["invoke_agent triage"].attributes or {})
    assert agent["gen_ai.operation.name"] == "invoke_agent"
    assert agent["gen_ai.agent.name"] == "triage"
    assert agent["ascent.agent.tools"] == ("lookup_order",)
    assert agent["ascent.agent.handoffs"] == ("billing",)
    assert "ascent.agent.output_type" not in agent  # None is left out

    model = dict(spans["chat gpt-4.1-mini"].attributes or {})
    assert model["gen_ai.operation.name"] == "chat"
    assert model["gen_ai.request.model"] == "gpt-4.1-mini"
    assert model["gen_ai.provider.name"] == "openai"
    assert model["gen_ai.system"] == "openai"
    assert model["gen_ai.agent.name"] == "triage"
    assert model["gen_ai.request.temperature"] == 0.2
    assert model["gen_ai.request.top_p"] == 0.9
    assert model["gen_ai.request.max_tokens"] == 256
    assert model["gen_ai.request.seed"] == 7
    assert model["gen_ai.usage.input_tokens"] == 31
    assert model["gen_ai.usage.output_tokens"] == 9
    assert model["ascent.model.usage.requests"] == 1
    assert model["gen_ai.response.id"] == "resp_123"
    assert json.loads(str(model["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(str(model["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is order 17?"}]}
    ]
    assert json.loads(str(model["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me look."},
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "lookup_order",
                    "arguments": {"id": 17},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]

    tool = dict(spans["execute_tool lookup_order"].attributes or {})
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "lookup_order"
    assert tool["gen_ai.tool.call.id"] == "call_1"
    assert json.loads(str(tool["gen_ai.tool.call.arguments"])) == {"id": 17}
    assert json.loads(str(tool["gen_ai.tool.call.result"])) == {"status": "shipped"}
    assert tool["ascent.tool.is_error"] is False

    handoff = dict(spans["handoff triage -> billing"].attributes or {})
    assert handoff["ascent.handoff.from_agent"] == "triage"
    assert handoff["ascent.handoff.to_agent"] == "billing"
    assert "gen_ai.operation.name" not in handoff

    guardrail = dict(spans["guardrail no_pii"].attributes or {})
    assert guardrail["ascent.guardrail.name"] == "no_pii"
    assert guardrail["ascent.guardrail.stage"] == "input"
    assert guardrail["ascent.guardrail.triggered"] is False

    custom = dict(spans["fetch"].attributes or {})
    assert custom["ascent.custom.source"] == "db"
    assert custom["ascent.span.kind"] == "custom"


def test_tool_results_go_back_as_tool_messages(otel: Setup) -> None:
    tp = otel.provider
    with tp.trace("w") as trace:
        history = [
            Message(role="developer", content="Rules."),
            Message(role="user", content="hi"),
            FunctionCall(call_id="c1", name="f", arguments="{}"),
            FunctionCallOutput(call_id="c1", output="42"),
        ]
        attributes = {
            "model": "offline",
            "input": history,
            "output": [Message(role="assistant", content="42")],
        }
        with tp.span("model", "offline", trace=trace, parent=None, attributes=attributes):
            pass
    span = otel.finished()["chat offline"]
    attributes = span.attributes or {}
    assert attributes["gen_ai.provider.name"] == "offline"
    messages = json.loads(str(attributes["gen_ai.input.messages"]))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[3]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "42"}]
    output = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output[0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai:gpt-4.1", ("openai", "gpt-4.1")),
        ("openai-chat:qwen2.5", ("openai", "qwen2.5")),
        ("litellm:anthropic/claude-sonnet-4", ("litellm", "anthropic/claude-sonnet-4")),
        ("offline", ("offline", "offline")),
        ("acme:m1", ("acme", "m1")),
        ("my-model", ("_OTHER", "my-model")),
    ],
)
def test_model_provider_prefixes(name: str, expected: tuple[str, str]) -> None:
    assert split_model_name(name) == expected


def test_secrets_never_reach_opentelemetry(otel: Setup) -> None:
    tp = otel.provider
    with tp.trace("w", metadata={"api_key": "meta-secret-1"}) as trace:
        arguments = json.dumps({"query": "orders", "api_key": "plain-secret-2", "note": SECRET_KEY})
        with tp.span(
            "tool",
            "search",
            trace=trace,
            parent=None,
            attributes={"call_id": "c", "arguments": arguments, "output": f"used {SECRET_KEY}"},
        ):
            pass
        history = [FunctionCall(call_id="c", name="search", arguments=arguments)]
        with tp.span(
            "model", "openai:gpt-4.1", trace=trace, parent=None, attributes={"input": history}
        ):
            pass
        with tp.span(
            "custom", "login", trace=trace, parent=None, attributes={"password": "hunter2-3"}
        ):
            pass
    spans = otel.finished()
    dumped = json.dumps(
        [{k: v for k, v in (span.attributes or {}).items()} for span in spans.values()],
        default=list,
    )
    for secret in ("meta-secret-1", "plain-secret-2", SECRET_KEY, "hunter2-3"):
        assert secret not in dumped
    assert "[REDACTED]" in dumped
    tool = spans["execute_tool search"].attributes or {}
    assert json.loads(str(tool["gen_ai.tool.call.arguments"]))["query"] == "orders"
    assert tool["gen_ai.tool.call.result"] == "used [REDACTED]"
    model = json.loads(str((spans["chat gpt-4.1"].attributes or {})["gen_ai.input.messages"]))
    assert model[0]["parts"][0]["arguments"]["api_key"] == "[REDACTED]"


def test_errors_become_error_status(otel: Setup) -> None:
    tp = otel.provider
    with pytest.raises(RuntimeError), tp.trace("failing") as trace:
        with (
            pytest.raises(ValueError),
            tp.span("tool", "broken", trace=trace, parent=None, attributes={"call_id": "c"}),
        ):
            raise ValueError("boom")
        with tp.span("tool", "soft", trace=trace, parent=None, attributes={"is_error": True}):
            pass
        with tp.span("tool", "fine", trace=trace, parent=None):
            pass
        raise RuntimeError("the run failed")
    spans = otel.finished()
    broken = spans["execute_tool broken"]
    assert broken.status.status_code is StatusCode.ERROR
    assert broken.status.description == "ValueError: boom"
    assert (broken.attributes or {})["error.type"] == "ValueError"
    assert [event.name for event in broken.events] == ["exception"]
    assert (broken.events[0].attributes or {})["exception.message"] == "ValueError: boom"
    assert spans["execute_tool soft"].status.status_code is StatusCode.ERROR
    assert spans["execute_tool fine"].status.status_code is StatusCode.UNSET
    root = spans["failing"]
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "RuntimeError: the run failed"


def test_spans_are_written_when_their_trace_ends(otel: Setup) -> None:
    tp = otel.provider
    trace = tp.trace("long").start()
    with tp.span("custom", "step", trace=trace, parent=None):
        pass
    assert otel.finished() == {}
    trace.finish()
    assert set(otel.finished()) == {"long", "step"}


def test_a_span_ending_after_its_trace_is_still_linked(otel: Setup) -> None:
    tp = otel.provider
    trace = tp.trace("early end").start()
    agent = tp.span("agent", "a", trace=trace, parent=None).start(make_current=False)
    late = tp.span("custom", "late", trace=trace, parent=agent).start(make_current=False)
    agent.finish()
    trace.finish()
    late.finish()
    spans = otel.finished()
    assert _parent(spans["late"]) == _id(spans["invoke_agent a"])
    assert _trace_id(spans["late"]) == _trace_id(spans["early end"])


def test_a_span_outside_any_started_trace_is_written_alone(otel: Setup) -> None:
    tp = otel.provider
    never_started = tp.trace("fetch")  # what custom_span does outside a trace
    with tp.span("custom", "fetch", trace=never_started, parent=None, attributes={"n": 3}):
        pass
    spans = otel.finished()
    assert list(spans) == ["fetch"]
    assert spans["fetch"].parent is None
    assert (spans["fetch"].attributes or {})["ascent.custom.n"] == 3


def test_shutdown_writes_open_traces_marked_incomplete(otel: Setup) -> None:
    tp = otel.provider
    tp.trace("unfinished").start()
    otel.processor.shutdown()
    spans = {span.name: span for span in otel.exporter.get_finished_spans()}
    assert (spans["unfinished"].attributes or {})["ascent.trace.incomplete"] is True


def test_trace_nests_under_the_active_otel_span(otel: Setup) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with (
        tracer.start_as_current_span("HTTP POST /chat") as request,
        otel.provider.trace("inside request") as trace,
        otel.provider.span("agent", "a", trace=trace, parent=None),
    ):
        pass
    spans = otel.finished()
    assert _parent(spans["inside request"]) == request.get_span_context().span_id
    assert _trace_id(spans["invoke_agent a"]) == request.get_span_context().trace_id


def test_install_opentelemetry_adds_to_the_global_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = TraceProvider()
    fresh.set_processors([])
    monkeypatch.setattr(processors, "_provider", fresh)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    processor = install_opentelemetry(tracer_provider)
    try:
        assert fresh.processors == [processor]
        with fresh.trace("installed"):
            pass
        processor.force_flush()
        assert [span.name for span in exporter.get_finished_spans()] == ["installed"]
    finally:
        processor.shutdown()


def test_missing_extra_is_a_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.startswith("opentelemetry")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "ascent.tracing.otel")
    with pytest.raises(UserError, match=r"ascent-agents\[otel\]"):
        importlib.import_module("ascent.tracing.otel")


def test_a_very_long_trace_is_written_in_parts_under_its_root() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    processor = OpenTelemetryProcessor(tracer_provider, max_buffered_spans=2)
    provider = TraceProvider()
    provider.set_processors([processor])
    try:
        trace = provider.trace("server lifetime").start()
        for name in ("one", "two", "three"):
            with provider.span("custom", name, trace=trace, parent=None):
                pass
        processor.force_flush()
        assert [span.name for span in exporter.get_finished_spans()] == ["one", "two"]
        trace.finish()
        processor.force_flush()
        spans = {span.name: span for span in exporter.get_finished_spans()}
        assert set(spans) == {"one", "two", "three", "server lifetime"}
        for name in ("one", "two", "three"):
            assert _parent(spans[name]) == _id(spans["server lifetime"])
    finally:
        provider.set_processors([])


def test_too_many_open_traces_writes_the_oldest_early() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    processor = OpenTelemetryProcessor(tracer_provider, max_open_traces=1)
    provider = TraceProvider()
    provider.set_processors([processor])
    try:
        first = provider.trace("first").start()
        with provider.span("custom", "a", trace=first, parent=None):
            pass
        second = provider.trace("second").start()
        with provider.span("custom", "b", trace=second, parent=None):
            pass
        processor.force_flush()
        spans = {span.name: span for span in exporter.get_finished_spans()}
        assert set(spans) == {"first", "a"}
        assert (spans["first"].attributes or {})["ascent.trace.incomplete"] is True
        assert _parent(spans["a"]) == _id(spans["first"])
        second.finish()
        first.finish()  # too late: its trace was written already
        processor.force_flush()
        names = [span.name for span in exporter.get_finished_spans()]
        assert sorted(names) == ["a", "b", "first", "second"]
    finally:
        provider.set_processors([])
