"""Prompt chaining: order, what each agent sees, gates that stop it, one trace."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from ascent import RunConfig, UserError, trace
from ascent.errors import PatternError
from ascent.patterns import Gate, Link, chain
from ascent.testing import ToolCall, recording_traces

from ..sample_tools import refund
from .conftest import one_workflow, scripted


class Outline(BaseModel):
    points: list[str]


async def test_each_agent_gets_the_previous_output_in_order() -> None:
    outliner, outline_model = scripted(
        "Outliner", Outline(points=["fit", "price"]), output_type=Outline
    )
    writer, writer_model = scripted("Writer", "A draft about fit and price.")
    editor, editor_model = scripted("Editor", "The edited draft.")

    result = await chain([outliner, writer, editor], "Write about running shoes")

    assert result.completed and result.stopped is None
    assert [s.agent for s in result.steps] == ["Outliner", "Writer", "Editor"]
    assert result.steps[0].output == Outline(points=["fit", "price"])
    assert result.outputs[1:] == ["A draft about fit and price.", "The edited draft."]
    assert result.final_output == "The edited draft."
    assert outline_model.requests[0].input[-1].text == "Write about running shoes"
    # a structured output travels on as JSON; text as text
    assert writer_model.requests[0].input[-1].text == '{"points":["fit","price"]}'
    assert editor_model.requests[0].input[-1].text == "A draft about fit and price."
    for model in (outline_model, writer_model, editor_model):
        model.assert_done()


async def test_a_failed_gate_stops_the_chain_with_its_reason() -> None:
    outliner, _ = scripted("Outliner", Outline(points=["fit"]), output_type=Outline)
    writer, writer_model = scripted("Writer")  # never asked: no steps
    enough = Gate(
        check=lambda outline: len(outline.points) >= 3,
        reason=lambda outline: f"only {len(outline.points)} point(s); three are needed",
        name="three points",
    )

    result = await chain([Link(agent=outliner, gate=enough), writer], "Write about shoes")

    assert not result.completed
    assert result.stopped is not None
    assert result.stopped.gate == "three points"
    assert result.stopped.agent == "Outliner"
    assert result.stopped.reason == "only 1 point(s); three are needed"
    assert result.stopped.output == Outline(points=["fit"])
    assert result.final_output is None
    assert [s.agent for s in result.steps] == ["Outliner"]
    assert writer_model.requests == []


async def test_a_passing_async_gate_and_a_prompt_that_shapes_the_next_input() -> None:
    first, _ = scripted("First", "draft one")
    second, second_model = scripted("Second", "final")
    seen: list[str] = []

    async def not_empty(output: str) -> bool:
        seen.append(output)
        return bool(output)

    result = await chain(
        [
            Link(agent=first, gate=Gate(check=not_empty, reason="empty")),
            Link(agent=second, prompt=lambda previous: f"Polish this: {previous}"),
        ],
        "start",
    )
    assert result.completed and seen == ["draft one"]
    assert second_model.requests[0].input[-1].text == "Polish this: draft one"
    assert result.steps[1].input == "Polish this: draft one"


async def test_a_failing_step_raises_and_later_steps_never_run() -> None:
    first, _ = scripted("First", RuntimeError("provider down"))
    second, second_model = scripted("Second")
    with pytest.raises(RuntimeError, match="provider down"):
        await chain([first, second], "go")
    assert second_model.requests == []


async def test_an_empty_chain_is_a_user_error() -> None:
    with pytest.raises(UserError, match="at least one agent"):
        await chain([], "go")


async def test_a_step_that_pauses_for_approval_is_a_pattern_error() -> None:
    first, _ = scripted("Billing", ToolCall("refund", {"order_id": "A-1"}), tools=[refund])
    with pytest.raises(PatternError, match="paused for approval of refund"):
        await chain([first], "refund A-1")


async def test_the_chain_is_one_trace_with_each_run_under_its_step() -> None:
    first, _ = scripted("First", "one")
    second, _ = scripted("Second", "two")
    with recording_traces() as recorder:
        await chain([first, second], "go", workflow_name="Essay")
    tree = one_workflow(recorder, "Essay")
    assert tree == [
        (0, "custom", "Essay"),
        (1, "custom", "step 1: First"),
        (2, "agent", "First"),
        (3, "model", "First-model"),
        (1, "custom", "step 2: Second"),
        (2, "agent", "Second"),
        (3, "model", "Second-model"),
    ]


async def test_inside_a_callers_trace_the_chain_is_a_span_of_it() -> None:
    first, _ = scripted("First", "one")
    with recording_traces() as recorder, trace("My flow"):
        await chain([first], "go")
    tree = one_workflow(recorder, "My flow")
    assert tree[0] == (0, "custom", "Prompt chain")


async def test_the_trace_and_its_root_span_say_which_pattern_ran() -> None:
    first, _ = scripted("First", "one")
    with recording_traces() as recorder:
        await chain([first], "go", run_config=RunConfig(trace_metadata={"team": "docs"}))
    [record] = recorder.traces
    assert record.metadata == {"pattern": "chain", "team": "docs"}
    [root] = [s for s in recorder.spans if s.name == "Prompt chain"]
    assert root.attributes == {"pattern": "chain", "steps": ["First"]}


async def test_with_tracing_disabled_nothing_is_recorded() -> None:
    first, _ = scripted("First", "one")
    with recording_traces() as recorder:
        await chain([first], "go", run_config=RunConfig(tracing_disabled=True))
    assert recorder.traces == [] and recorder.spans == []
