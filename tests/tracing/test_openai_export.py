"""The opt-in OpenAI traces exporter, against a local HTTP endpoint on loopback."""

from __future__ import annotations

import collections
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ascent.errors import UserError
from ascent.items import FunctionCall, Message
from ascent.tracing import processors
from ascent.tracing.openai_export import (
    MAX_FIELD_BYTES,
    OpenAITracesExporter,
    install_openai_tracing,
    openai_span_id,
    openai_trace_id,
)
from ascent.tracing.processors import BatchTraceProcessor, TraceProvider
from ascent.tracing.spans import Span, SpanRecord, TraceRecord

API_KEY = "sk-test-" + "k" * 24
SECRET = "sk-proj-" + "Z9y8X7w6V5u4T3s2R1q0" * 2
SPAN_ID = re.compile(r"span_[0-9a-f]{24}")
TRACE_ID = re.compile(r"trace_[0-9a-f]{32}")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class IngestServer:
    """Records every POST; answers with the scripted statuses, then 200."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: collections.deque[int] = field(default_factory=collections.deque)
    always: int | None = None

    @property
    def data(self) -> list[dict[str, Any]]:
        return [item for request in self.requests for item in request.body["data"]]


@pytest.fixture
def ingest() -> Iterator[IngestServer]:
    state = IngestServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = state.always or (state.statuses.popleft() if state.statuses else 200)
            payload = b"{}" if status < 300 else b'{"error": {"message": "unavailable"}}'
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _exporter(server: IngestServer, **options: Any) -> OpenAITracesExporter:
    options.setdefault("backoff", 0.01)
    return OpenAITracesExporter(api_key=API_KEY, base_url=server.base_url, **options)


@pytest.fixture
def traced(ingest: IngestServer) -> Iterator[tuple[TraceProvider, BatchTraceProcessor]]:
    processor = BatchTraceProcessor(_exporter(ingest))
    provider = TraceProvider()  # private: the global provider stays untouched
    provider.set_processors([processor])
    yield provider, processor
    provider.set_processors([])


def _run(provider: TraceProvider) -> dict[str, Span]:
    made: dict[str, Span] = {}
    with provider.trace(
        "Support flow", group_id="conv-7", metadata={"user": "u-1", "tier": 2}
    ) as trace:
        made["trace"] = trace  # type: ignore[assignment]
        agent_attrs = {"tools": ["lookup"], "handoffs": ["billing"], "output_type": "Answer"}
        with provider.span(
            "agent", "triage", trace=trace, parent=None, attributes=agent_attrs
        ) as agent:
            made["agent"] = agent
            model_attrs = {
                "model": "openai:gpt-4.1",
                "agent": "triage",
                "settings": {"temperature": 0.5, "max_tokens": 100},
                "instructions": "Be brief.",
                "input": [Message(role="user", content="Order 5?")],
                "usage": {"requests": 1, "input_tokens": 12, "output_tokens": 4},
                "output": [FunctionCall(call_id="c1", name="lookup", arguments='{"id": 5}')],
            }
            with provider.span(
                "model", "gpt-4.1", trace=trace, parent=agent, attributes=model_attrs
            ) as model:
                made["model"] = model
            tool_attrs = {"call_id": "c1", "arguments": '{"id": 5}', "output": "shipped"}
            with provider.span(
                "tool", "lookup", trace=trace, parent=agent, attributes=tool_attrs
            ) as tool:
                made["tool"] = tool
            with provider.span(
                "guardrail",
                "no_pii",
                trace=trace,
                parent=agent,
                attributes={"stage": "output", "triggered": True},
            ) as guardrail:
                made["guardrail"] = guardrail
            with provider.span(
                "handoff",
                "triage -> billing",
                trace=trace,
                parent=agent,
                attributes={"from_agent": "triage", "to_agent": "billing"},
            ) as handoff:
                made["handoff"] = handoff
            with provider.span(
                "custom", "fetch", trace=trace, parent=agent, attributes={"rows": 3}
            ) as custom:
                made["custom"] = custom
    return made


def test_batches_are_posted_with_the_expected_headers(
    ingest: IngestServer, traced: tuple[TraceProvider, BatchTraceProcessor]
) -> None:
    provider, processor = traced
    _run(provider)
    processor.force_flush()
    assert ingest.requests, "nothing was posted"
    request = ingest.requests[0]
    assert request.path == "/v1/traces/ingest"
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["openai-beta"] == "traces=v1"
    assert headers["content-type"] == "application/json"
    assert set(request.body) == {"data"}


def test_traces_and_spans_have_the_ingest_shape(
    ingest: IngestServer, traced: tuple[TraceProvider, BatchTraceProcessor]
) -> None:
    provider, processor = traced
    made = _run(provider)
    processor.force_flush()
    data = ingest.data

    traces = [item for item in data if item["object"] == "trace"]
    assert len(traces) == 1, "a trace is sent once though it is queued at start and end"
    trace = made["trace"]
    assert traces[0] == {
        "object": "trace",
        "id": trace.trace_id,
        "workflow_name": "Support flow",
        "group_id": "conv-7",
        "metadata": {"user": "u-1", "tier": "2"},
    }
    assert data[0]["object"] == "trace", "the trace comes before its spans"

    spans = {item["span_data"]["type"]: item for item in data if item["object"] == "trace.span"}
    assert set(spans) == {"agent", "generation", "function", "guardrail", "handoff", "custom"}
    agent = spans["agent"]
    for item in spans.values():
        assert SPAN_ID.fullmatch(item["id"])
        assert item["trace_id"] == trace.trace_id
        assert item["error"] is None
    assert agent["parent_id"] is None
    assert agent["id"] == made["agent"].span_id[:29]
    for kind in ("generation", "function", "guardrail", "handoff", "custom"):
        assert spans[kind]["parent_id"] == agent["id"]

    started = datetime.fromisoformat(agent["started_at"])
    ended = datetime.fromisoformat(agent["ended_at"])
    assert started.utcoffset() is not None and started.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert started.timestamp() == pytest.approx(made["agent"].started_at, abs=1e-5)
    assert ended.timestamp() == pytest.approx(made["agent"].ended_at, abs=1e-5)

    assert agent["span_data"] == {
        "type": "agent",
        "name": "triage",
        "handoffs": ["billing"],
        "tools": ["lookup"],
        "output_type": "Answer",
    }
    assert spans["function"]["span_data"] == {
        "type": "function",
        "name": "lookup",
        "input": '{"id": 5}',
        "output": "shipped",
    }
    assert spans["guardrail"]["span_data"] == {
        "type": "guardrail",
        "name": "no_pii",
        "triggered": True,
    }
    assert spans["handoff"]["span_data"] == {
        "type": "handoff",
        "from_agent": "triage",
        "to_agent": "billing",
    }
    assert spans["custom"]["span_data"] == {"type": "custom", "name": "fetch", "data": {"rows": 3}}

    generation = spans["generation"]["span_data"]
    assert generation["model"] == "gpt-4.1"
    assert generation["model_config"] == {"temperature": 0.5, "max_tokens": 100}
    assert generation["usage"] == {"input_tokens": 12, "output_tokens": 4}
    assert generation["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Order 5?"},
    ]
    assert generation["output"] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"id": 5}'},
                }
            ],
        }
    ]


def test_errors_are_reported_on_spans(
    ingest: IngestServer, traced: tuple[TraceProvider, BatchTraceProcessor]
) -> None:
    provider, processor = traced
    with provider.trace("w") as trace:
        with pytest.raises(ValueError), provider.span("tool", "bad", trace=trace, parent=None):
            raise ValueError("boom")
        with provider.span("tool", "soft", trace=trace, parent=None, attributes={"is_error": True}):
            pass
    processor.force_flush()
    errors = {
        item["span_data"]["name"]: item["error"]
        for item in ingest.data
        if item["object"] == "trace.span"
    }
    assert errors["bad"] == {"message": "ValueError: boom", "data": None}
    assert errors["soft"] == {"message": "the tool reported an error", "data": None}


def test_secrets_never_reach_the_dashboard(
    ingest: IngestServer, traced: tuple[TraceProvider, BatchTraceProcessor]
) -> None:
    provider, processor = traced
    arguments = json.dumps({"q": "x", "api_key": "plain-secret-1", "note": SECRET})
    with provider.trace("w", metadata={"password": "meta-secret-2"}) as trace:
        with provider.span(
            "tool", "t", trace=trace, parent=None, attributes={"arguments": arguments}
        ):
            pass
        history = [FunctionCall(call_id="c", name="t", arguments=arguments)]
        with provider.span("model", "m", trace=trace, parent=None, attributes={"input": history}):
            pass
    processor.force_flush()
    body = json.dumps([request.body for request in ingest.requests])
    for secret in ("plain-secret-1", SECRET, "meta-secret-2"):
        assert secret not in body
    assert "[REDACTED]" in body
    tool = next(item for item in ingest.data if item.get("span_data", {}).get("type") == "function")
    assert json.loads(tool["span_data"]["input"])["q"] == "x"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failures_are_retried(ingest: IngestServer, status: int) -> None:
    ingest.statuses.extend([status, status])
    record = TraceRecord(trace_id="trace_" + "a" * 32, workflow="w", started_at=1.0)
    _exporter(ingest).export([record])
    assert len(ingest.requests) == 3
    assert ingest.requests[0].body == ingest.requests[2].body


def test_persistent_failure_is_logged_and_dropped(
    ingest: IngestServer, caplog: pytest.LogCaptureFixture
) -> None:
    ingest.always = 500
    record = TraceRecord(trace_id="trace_" + "b" * 32, workflow="w", started_at=1.0)
    with caplog.at_level(logging.WARNING, logger="ascent.tracing"):
        _exporter(ingest, max_retries=2).export([record])  # must not raise
    assert len(ingest.requests) == 3
    assert "failed after 3 attempts" in caplog.text
    assert "1 records dropped" in caplog.text
    assert API_KEY not in caplog.text


def test_client_errors_are_not_retried(
    ingest: IngestServer, caplog: pytest.LogCaptureFixture
) -> None:
    ingest.always = 400
    record = TraceRecord(trace_id="trace_" + "c" * 32, workflow="w", started_at=1.0)
    with caplog.at_level(logging.ERROR, logger="ascent.tracing"):
        _exporter(ingest).export([record])
    assert len(ingest.requests) == 1
    assert "rejected (HTTP 400)" in caplog.text


def test_an_unreachable_endpoint_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    exporter = OpenAITracesExporter(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01
    )
    record = TraceRecord(trace_id="trace_" + "d" * 32, workflow="w", started_at=1.0)
    with caplog.at_level(logging.ERROR, logger="ascent.tracing"):
        exporter.export([record])
    assert "failed after 2 attempts" in caplog.text


def test_without_a_key_nothing_is_sent(
    ingest: IngestServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    exporter = OpenAITracesExporter(base_url=ingest.base_url)
    record = TraceRecord(trace_id="trace_" + "e" * 32, workflow="w", started_at=1.0)
    with caplog.at_level(logging.WARNING, logger="ascent.tracing"):
        exporter.export([record])
        exporter.export([record])
    assert ingest.requests == []
    assert caplog.text.count("no API key") == 1
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        install_openai_tracing()


def test_the_key_may_come_from_the_environment(
    ingest: IngestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-" + "e" * 20)
    OpenAITracesExporter(base_url=ingest.base_url).export(
        [TraceRecord(trace_id="trace_" + "f" * 32, workflow="w", started_at=1.0)]
    )
    assert ingest.requests[0].headers["Authorization"] == "Bearer sk-from-env-" + "e" * 20


def test_ids_take_the_shape_the_format_expects() -> None:
    ascent_span = "span_" + "0123456789abcdef" * 2
    assert openai_span_id(ascent_span) == "span_" + "0123456789abcdef01234567"
    assert openai_trace_id("trace_" + "ab" * 16) == "trace_" + "ab" * 16
    custom = openai_trace_id("my own trace id")
    assert TRACE_ID.fullmatch(custom)
    assert custom == openai_trace_id("my own trace id")
    assert custom != openai_trace_id("another id")
    assert SPAN_ID.fullmatch(openai_span_id("odd-span"))


def test_oversized_fields_are_truncated(ingest: IngestServer) -> None:
    record = SpanRecord(
        trace_id="trace_" + "1" * 32,
        span_id="span_" + "2" * 32,
        kind="tool",
        name="dump",
        started_at=1.0,
        ended_at=2.0,
        attributes={"arguments": "{}", "output": "x" * (MAX_FIELD_BYTES + 5_000)},
    )
    _exporter(ingest).export([record])
    output = ingest.data[0]["span_data"]["output"]
    assert len(output.encode()) <= MAX_FIELD_BYTES
    assert output.endswith("... [truncated]")
    assert ingest.data[0]["span_data"]["input"] == "{}"


def test_install_openai_tracing_adds_a_batch_processor(
    ingest: IngestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = TraceProvider()
    fresh.set_processors([])
    monkeypatch.setattr(processors, "_provider", fresh)
    processor = install_openai_tracing(api_key=API_KEY, base_url=ingest.base_url)
    try:
        assert fresh.processors == [processor]
        assert isinstance(processor.exporter, OpenAITracesExporter)
        with fresh.trace("installed"):
            pass
        processor.force_flush()
        assert [item["workflow_name"] for item in ingest.data] == ["installed"]
    finally:
        processor.shutdown()
