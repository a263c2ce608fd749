"""The spans a run records: names, parents, attributes, usage; sensitive data kept out."""

from __future__ import annotations

from typing import Any

import pytest

from ascent import (
    Agent,
    InputGuardrailTripwireTriggered,
    Item,
    RunConfig,
    RunContext,
    Runner,
    custom_span,
    function_tool,
    input_guardrail,
    trace,
)
from ascent.testing import ScriptedModel, Step, ToolCall, recording_traces
from ascent.tracing import SpanRecord


@input_guardrail
def polite(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
    return "stupid" in str(getattr(items[-1], "text", ""))


@function_tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    with custom_span("db query", table="orders"):
        return f"{order_id}: shipped"


def team() -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(
        [
            Step(calls=[ToolCall("lookup", {"order_id": "A-1"})], delay=0.01),
            ToolCall("transfer_to_billing"),
            "Billing here: it shipped.",
        ]
    )
    billing = Agent(name="billing", model=model)
    triage = Agent(
        name="triage", model=model, tools=[lookup], handoffs=[billing], input_guardrails=[polite]
    )
    return triage, model


def by_id(spans: list[SpanRecord]) -> dict[str, SpanRecord]:
    return {s.span_id: s for s in spans}


async def test_span_tree_of_a_run_with_tool_handoff_and_guardrail() -> None:
    agent, _ = team()
    with recording_traces() as recorder:
        result = await Runner.run(
            agent, "where is A-1?", run_config=RunConfig(workflow_name="support")
        )
    [record] = recorder.traces
    assert record.workflow == "support" and record.metadata["run_id"] == result.state.run_id
    assert record.ended_at is not None and record.error is None
    spans = recorder.spans
    assert {s.trace_id for s in spans} == {record.trace_id}
    index = by_id(spans)

    def parent(span: SpanRecord) -> tuple[str, str] | None:
        if span.parent_id is None:
            return None
        up = index[span.parent_id]
        return (up.kind, up.name)

    shape = sorted((s.kind, s.name, parent(s)) for s in spans)
    assert shape == sorted(
        [
            ("agent", "triage", None),
            ("guardrail", "polite", ("agent", "triage")),
            ("model", "scripted", ("agent", "triage")),
            ("tool", "lookup", ("agent", "triage")),
            ("custom", "db query", ("tool", "lookup")),
            ("model", "scripted", ("agent", "triage")),
            ("handoff", "triage -> billing", ("agent", "triage")),
            ("agent", "billing", None),
            ("model", "scripted", ("agent", "billing")),
        ]
    )
    tool = next(s for s in spans if s.kind == "tool")
    assert tool.attributes["arguments"] == '{"order_id": "A-1"}'
    assert tool.attributes["output"] == "A-1: shipped" and tool.attributes["is_error"] is False
    guard = next(s for s in spans if s.kind == "guardrail")
    assert guard.attributes == {"stage": "input", "triggered": False}
    handoff = next(s for s in spans if s.kind == "handoff")
    assert handoff.attributes == {"from_agent": "triage", "to_agent": "billing"}
    models = [s for s in spans if s.kind == "model"]
    assert all(m.attributes["usage"]["requests"] == 1 for m in models)
    assert sum(m.attributes["usage"]["input_tokens"] for m in models) == result.usage.input_tokens
    triage_span = next(s for s in spans if s.name == "triage")
    assert triage_span.attributes["tools"] == ["lookup"]
    assert triage_span.attributes["handoffs"] == ["billing"]
    for span in spans:
        assert span.ended_at is not None and span.ended_at >= span.started_at


async def test_sensitive_data_can_be_left_out() -> None:
    agent, _ = team()
    with recording_traces() as recorder:
        await Runner.run(
            agent, "where is A-1?", run_config=RunConfig(trace_include_sensitive_data=False)
        )
    for span in recorder.spans:
        assert not {"input", "output", "arguments", "instructions"} & span.attributes.keys()
    assert any(s.kind == "model" and "usage" in s.attributes for s in recorder.spans)


async def test_tracing_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    agent, _ = team()
    with recording_traces() as recorder:
        await Runner.run(agent, "where is A-1?", run_config=RunConfig(tracing_disabled=True))
        monkeypatch.setenv("ASCENT_TRACING", "off")
        agent, _ = team()
        await Runner.run(agent, "where is A-1?")
    assert recorder.traces == [] and recorder.spans == []


async def test_one_trace_around_several_runs_and_nested_agent_tools() -> None:
    inner = Agent(name="inner", model=ScriptedModel(["inner says hi"]))
    outer = Agent(
        name="outer",
        model=ScriptedModel([ToolCall("ask", {"input": "hi"}), "done", "again"]),
        tools=[inner.as_tool(name="ask")],
    )
    with recording_traces() as recorder, trace("two runs") as block:
        await Runner.run(outer, "first")
        await Runner.run(outer, "second")
    assert [t.workflow for t in recorder.traces] == ["two runs"]
    assert {s.trace_id for s in recorder.spans} == {block.trace_id}
    index = by_id(recorder.spans)
    inner_agent = next(s for s in recorder.spans if s.kind == "agent" and s.name == "inner")
    assert inner_agent.parent_id is not None
    assert index[inner_agent.parent_id].kind == "tool"  # the nested run hangs under the tool call
    assert len([s for s in recorder.spans if s.kind == "agent" and s.name == "outer"]) == 2


async def test_errors_are_recorded_on_the_trace_and_spans() -> None:
    agent, _ = team()
    with recording_traces() as recorder, pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(agent, "you stupid bot")
    [record] = recorder.traces
    assert record.error is not None and "polite" in record.error
    guard = next(s for s in recorder.spans if s.kind == "guardrail")
    assert guard.attributes["triggered"] is True
    model = next(s for s in recorder.spans if s.kind == "model")
    assert model.error is not None and "CancelledError" in model.error
