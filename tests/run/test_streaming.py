"""Streaming: deltas as they arrive, item events, agent changes, parity, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from ascent import Agent, FunctionCallOutput, Runner, RunResult, function_tool
from ascent.models.base import ModelRequest, ModelResponse, ModelStreamEvent, TextDelta
from ascent.run.events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ItemEvent,
    TextDeltaEvent,
    ToolCallArgumentsDeltaEvent,
)
from ascent.testing import ScriptedModel, Step, ToolCall

from ..sample_tools import add


@function_tool(needs_approval=True)
def wire_money(amount: int) -> str:
    """Send money."""
    return f"sent {amount}"


class Verdict(BaseModel):
    ok: bool
    note: str


# Each scenario builds fresh agents (and scripts) so it can run twice.
def plain() -> tuple[Agent, str]:
    return Agent(name="a", model=ScriptedModel(["Hello there, friend."])), "hi"


def tools() -> tuple[Agent, str]:
    model = ScriptedModel(
        [[ToolCall("add", {"a": 1, "b": 2}), ToolCall("add", {"a": 3, "b": 4})], "3 and 7"]
    )
    return Agent(name="calc", model=model, tools=[add]), "sums"


def bad_arguments() -> tuple[Agent, str]:
    model = ScriptedModel([ToolCall("add", "{oops"), ToolCall("add", {"a": 1, "b": 1}), "2"])
    return Agent(name="calc", model=model, tools=[add]), "1+1"


def handoffs() -> tuple[Agent, str]:
    model = ScriptedModel([ToolCall("transfer_to_b"), ToolCall("transfer_to_c"), "C here."])
    c = Agent(name="c", model=model)
    b = Agent(name="b", model=model, handoffs=[c])
    return Agent(name="a", model=model, handoffs=[b]), "go"


def structured() -> tuple[Agent, str]:
    model = ScriptedModel(["not json", Verdict(ok=True, note="fine")])
    return Agent(name="judge", model=model, output_type=Verdict), "judge"


def agent_tool() -> tuple[Agent, str]:
    inner = Agent(name="inner", model=ScriptedModel(["inner answer"]))
    outer = ScriptedModel([ToolCall("ask_inner", {"input": "q"}), "outer answer"])
    return Agent(name="outer", model=outer, tools=[inner.as_tool(name="ask_inner")]), "ask"


def approval() -> tuple[Agent, str]:
    model = ScriptedModel([ToolCall("wire_money", {"amount": 5})])
    return Agent(name="bank", model=model, tools=[wire_money]), "pay"


SCENARIOS: list[Callable[[], tuple[Agent, str]]] = [
    plain,
    tools,
    bad_arguments,
    handoffs,
    structured,
    agent_tool,
    approval,
]


def comparable(result: RunResult) -> dict[str, Any]:
    state = result.state.model_dump(exclude={"run_id"})
    return {
        "items": [i.model_dump() for i in result.new_items],
        "output": result.final_output,
        "usage": result.usage.model_dump(),
        "last_agent": result.last_agent.name,
        "interruptions": [r.model_dump() for r in result.interruptions],
        "state": state,
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_streamed_and_plain_runs_end_in_the_same_state(
    scenario: Callable[[], tuple[Agent, str]],
) -> None:
    agent, text = scenario()
    plain_result = await Runner.run(agent, text)
    agent, text = scenario()
    streamed = Runner.run_streamed(agent, text)
    events = [event async for event in streamed.stream_events()]
    assert events, "a streamed run yields events"
    assert comparable(streamed.result) == comparable(plain_result)


async def test_event_sequence_of_a_tool_run() -> None:
    agent, text = tools()
    streamed = Runner.run_streamed(agent, text)
    events = [e async for e in streamed.stream_events()]
    kinds = [e.type if not isinstance(e, ItemEvent) else f"item:{e.name}" for e in events]
    assert kinds[0] == "agent_changed"
    assert kinds.count("tool_call_arguments_delta") == 2
    assert kinds.count("item:tool_call") == 2 and kinds.count("item:tool_output") == 2
    # outputs come after their calls, the answer's deltas after the outputs
    assert kinds.index("item:tool_output") > kinds.index("item:tool_call")
    first_text = kinds.index("text_delta")
    assert first_text > max(i for i, k in enumerate(kinds) if k == "item:tool_output")
    text = "".join(e.delta for e in events if isinstance(e, TextDeltaEvent))
    assert text == "3 and 7" == streamed.final_output
    deltas = [e for e in events if isinstance(e, ToolCallArgumentsDeltaEvent)]
    assert deltas[0].name == "add" and '"a": 1' in deltas[0].delta


async def test_agent_changes_and_handoff_items_are_streamed() -> None:
    agent, text = handoffs()
    streamed = Runner.run_streamed(agent, text)
    events = [e async for e in streamed.stream_events()]
    changes = [(e.previous, e.agent) for e in events if isinstance(e, AgentChangedEvent)]
    assert changes == [(None, "a"), ("a", "b"), ("b", "c")]
    handoff_items = [e.item for e in events if isinstance(e, ItemEvent) and e.name == "handoff"]
    assert [i.handoff_to for i in handoff_items if isinstance(i, FunctionCallOutput)] == ["b", "c"]
    calls = [e for e in events if isinstance(e, ItemEvent) and e.name == "handoff_call"]
    assert len(calls) == 2


async def test_events_of_an_agent_used_as_a_tool_are_tagged() -> None:
    agent, text = agent_tool()
    streamed = Runner.run_streamed(agent, text)
    events = [e async for e in streamed.stream_events()]
    inner = [e for e in events if e.agent == "inner"]
    assert inner and all(e.parent_call_id == "call_1_0" for e in inner)
    assert "".join(e.delta for e in inner if isinstance(e, TextDeltaEvent)) == "inner answer"
    outer = [e for e in events if e.agent == "outer"]
    assert all(e.parent_call_id is None for e in outer)


async def test_approval_pause_is_an_event() -> None:
    agent, text = approval()
    streamed = Runner.run_streamed(agent, text)
    events = [e async for e in streamed.stream_events()]
    assert isinstance(events[-1], ApprovalRequiredEvent)
    assert events[-1].requests[0].tool_name == "wire_money"
    assert streamed.result.is_interrupted


class _SlowModel:
    """Streams one delta, then hangs until cancelled; records the cancellation."""

    name = "slow"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def respond(self, request: ModelRequest) -> ModelResponse:  # pragma: no cover
        raise AssertionError("not used")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield TextDelta(delta="thinking")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield TextDelta(delta="never")  # pragma: no cover


async def test_leaving_the_stream_cancels_the_model_call() -> None:
    model = _SlowModel()
    streamed = Runner.run_streamed(Agent(name="a", model=model), "x")
    events = streamed.stream_events()
    async for event in events:
        if isinstance(event, TextDeltaEvent):
            break
    await events.aclose()
    await asyncio.wait_for(model.cancelled.wait(), 2)
    with pytest.raises(Exception):  # noqa: B017 - no result: the run was cancelled
        _ = streamed.result


async def test_cancel_stops_a_slow_tool() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @function_tool
    async def forever() -> str:
        """Never ends."""
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "x"  # pragma: no cover

    model = ScriptedModel([ToolCall("forever")])
    streamed = Runner.run_streamed(Agent(name="a", model=model, tools=[forever]), "x")

    async def consume() -> None:
        async for _ in streamed.stream_events():
            pass

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    await streamed.cancel()
    await asyncio.wait_for(cancelled.wait(), 2)
    with pytest.raises(asyncio.CancelledError):
        await consumer


async def test_errors_end_the_stream_with_the_exception() -> None:
    model = ScriptedModel([Step(error=RuntimeError("provider exploded"))])
    streamed = Runner.run_streamed(Agent(name="a", model=model), "x")
    with pytest.raises(RuntimeError, match="provider exploded"):
        async for _ in streamed.stream_events():
            pass


def test_run_streamed_outside_an_event_loop_is_a_clear_error() -> None:
    from ascent import UserError

    with pytest.raises(UserError, match="running event loop"):
        Runner.run_streamed(Agent(name="a", model=ScriptedModel(["x"])), "x")
