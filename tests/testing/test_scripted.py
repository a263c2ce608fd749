"""The scripted model fails loudly when the script and the run disagree."""

from __future__ import annotations

import pytest

from ascent import Agent, Runner
from ascent.models.base import ResponseCompleted
from ascent.testing import ScriptedModel, Step, ToolCall


async def test_running_out_of_steps_fails() -> None:
    model = ScriptedModel([ToolCall("missing_tool")])
    with pytest.raises(AssertionError, match="no step left for call #2"):
        await Runner.run(Agent(name="a", model=model), "x")


async def test_unused_steps_fail_assert_done() -> None:
    model = ScriptedModel(["one", "two"])
    await Runner.run(Agent(name="a", model=model), "x")
    with pytest.raises(AssertionError, match="1 step"):
        model.assert_done()


async def test_step_factory_sees_the_request() -> None:
    model = ScriptedModel([lambda request: f"you said {request.input[-1].text}"])  # type: ignore[union-attr]
    result = await Runner.run(Agent(name="a", model=model), "ping")
    assert result.final_output == "you said ping"


async def test_stream_assembles_to_the_same_response() -> None:
    model = ScriptedModel([Step(text="abcdefghij", chunks=4)])
    events = [e async for e in model.stream(_request())]
    deltas = [e.delta for e in events if e.type == "text_delta"]  # type: ignore[union-attr]
    assert len(deltas) == 4 and "".join(deltas) == "abcdefghij"
    assert isinstance(events[-1], ResponseCompleted)


def _request():  # type: ignore[no-untyped-def]
    from ascent.models.base import ModelRequest

    return ModelRequest(instructions=None, input=[])
