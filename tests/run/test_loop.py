"""The agent loop driven by hand: no interpreter, no model, no I/O.

Each command the loop yields is checked, serialized to JSON and back, and
answered with a hand-made result, as a durable interpreter would do.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, TypeAdapter

from ascent import Agent, FunctionCall, MaxTurnsExceeded, Message, ModelBehaviorError
from ascent.items import FunctionCallOutput, Usage
from ascent.models.base import ModelResponse
from ascent.run.commands import (
    ApprovalDecision,
    AwaitApproval,
    CallModel,
    Command,
    HandoffResult,
    RunHandoff,
    RunTools,
    ToolsResult,
    command_result_adapter,
)
from ascent.run.graph import AgentGraph
from ascent.run.loop import agent_loop
from ascent.run.state import RunState

from ..sample_tools import lookup

COMMANDS: TypeAdapter[Command] = TypeAdapter(Command)


def new_state(agent: Agent, text: str = "hi", max_turns: int = 10) -> RunState:
    return RunState(
        starting_agent=agent.name,
        current_agent=agent.name,
        input=[Message(role="user", content=text)],
        max_turns=max_turns,
    )


def roundtrip(command: object) -> object:
    """A command survives JSON, as a durable interpreter would store it."""
    data = COMMANDS.dump_json(command)  # type: ignore[arg-type]
    again = COMMANDS.validate_json(data)
    assert again == command
    return again


def answer(command: object, result: object) -> object:
    kind = command.kind  # type: ignore[attr-defined]
    adapter = command_result_adapter(kind)
    return adapter.validate_json(adapter.dump_json(result))


def call(name: str, arguments: dict, call_id: str = "c1") -> FunctionCall:
    return FunctionCall(call_id=call_id, name=name, arguments=json.dumps(arguments))


def test_tool_then_answer_by_hand() -> None:
    agent = Agent(name="support", tools=[lookup])
    state = new_state(agent, "where is A-1?")
    loop = agent_loop(state, AgentGraph(agent))

    first = roundtrip(next(loop))
    assert isinstance(first, CallModel)
    assert first.agent == "support" and first.turn == 1 and first.agent_start
    assert [i.text for i in first.input if isinstance(i, Message)] == ["where is A-1?"]

    response = ModelResponse(
        output=[call("lookup", {"order_id": "A-1"})],
        usage=Usage(requests=1, input_tokens=7, output_tokens=3),
        model="m",
    )
    second = roundtrip(loop.send(answer(first, response)))
    assert isinstance(second, RunTools)
    assert [c.name for c in second.calls] == ["lookup"]
    assert state.pending is not None  # the state says tools are outstanding

    tools = ToolsResult(outputs=[FunctionCallOutput(call_id="c1", output="shipped")])
    third = roundtrip(loop.send(answer(second, tools)))
    assert isinstance(third, CallModel)
    assert third.turn == 2 and not third.agent_start
    assert [i.type for i in third.input] == ["message", "function_call", "function_call_output"]

    final = ModelResponse(output=[Message.assistant("It shipped.")], model="m")
    with pytest.raises(StopIteration) as stop:
        loop.send(answer(third, final))
    done: RunState = stop.value.value
    assert done.status == "completed" and done.final_output == "It shipped."
    assert done.usage.requests == 1 and done.usage.by_model["m"].input_tokens == 7
    assert [i.agent for i in done.generated] == ["support"] * 3
    # the whole state survives JSON, too
    assert RunState.from_json(done.to_json()) == done


def test_unknown_tool_is_answered_by_the_loop_itself() -> None:
    agent = Agent(name="a", tools=[lookup])
    state = new_state(agent)
    loop = agent_loop(state, AgentGraph(agent))
    first = next(loop)
    nxt = loop.send(ModelResponse(output=[call("delete_everything", {})]))
    # no tool to run: the loop writes the error output and calls the model again
    assert isinstance(nxt, CallModel) and first != nxt
    output = state.generated[-1]
    assert isinstance(output, FunctionCallOutput) and output.is_error
    assert "no tool named 'delete_everything'" in output.output and "lookup" in output.output


def test_handoff_is_a_command_and_switches_agent() -> None:
    billing = Agent(name="billing")
    triage = Agent(name="triage", handoffs=[billing])
    state = new_state(triage)
    loop = agent_loop(state, AgentGraph(triage))
    next(loop)
    command = roundtrip(loop.send(ModelResponse(output=[call("transfer_to_billing", {})])))
    assert isinstance(command, RunHandoff) and command.target == "billing"
    result = HandoffResult(
        accepted=True,
        output=FunctionCallOutput(call_id="c1", output="{}", handoff_to="billing"),
    )
    after = loop.send(answer(command, result))
    assert isinstance(after, CallModel) and after.agent == "billing" and after.agent_start
    assert state.current_agent == "billing"


def test_approval_pause_and_decision() -> None:
    agent = Agent(name="a", tools=[lookup])
    state = new_state(agent)
    loop = agent_loop(state, AgentGraph(agent))
    next(loop)
    run_tools = loop.send(ModelResponse(output=[call("lookup", {"order_id": "1"})]))
    pending = ToolsResult(
        outputs=[],
        pending=[{"call_id": "c1", "tool_name": "lookup", "arguments": "{}", "agent": "a"}],  # type: ignore[list-item]
    )
    wait = roundtrip(loop.send(answer(run_tools, pending)))
    assert isinstance(wait, AwaitApproval) and wait.requests[0].call_id == "c1"
    assert state.status == "awaiting_approval"
    # a durable interpreter would wait, then send the decisions
    again = loop.send({"c1": ApprovalDecision(approved=True)})
    assert isinstance(again, RunTools)
    assert again.approvals["c1"].approved


def test_structured_output_repair_then_give_up() -> None:
    class Answer(BaseModel):
        value: int

    agent = Agent(name="a", output_type=Answer)
    state = new_state(agent)
    loop = agent_loop(state, AgentGraph(agent), output_retries=1)
    next(loop)
    retry = loop.send(ModelResponse(output=[Message.assistant("not json")]))
    assert isinstance(retry, CallModel)
    assert "not valid" in retry.input[-1].text  # type: ignore[union-attr]
    with pytest.raises(ModelBehaviorError, match="did not produce valid"):
        loop.send(ModelResponse(output=[Message.assistant('{"value": "x"}')]))


def test_max_turns_raises_with_items() -> None:
    agent = Agent(name="a", tools=[lookup])
    state = new_state(agent, max_turns=1)
    loop = agent_loop(state, AgentGraph(agent))
    next(loop)
    loop.send(ModelResponse(output=[call("lookup", {"order_id": "1"})]))
    with pytest.raises(MaxTurnsExceeded) as info:
        loop.send(ToolsResult(outputs=[FunctionCallOutput(call_id="c1", output="x")]))
    assert info.value.max_turns == 1
    assert [i.type for i in info.value.items] == ["function_call", "function_call_output"]


def test_resume_from_json_mid_run() -> None:
    """A state saved between steps continues in a brand-new loop."""
    agent = Agent(name="a", tools=[lookup])
    state = new_state(agent)
    loop = agent_loop(state, AgentGraph(agent))
    next(loop)
    loop.send(ModelResponse(output=[call("lookup", {"order_id": "1"})]))
    restored = RunState.from_json(state.to_json())
    fresh = agent_loop(restored, AgentGraph(agent))
    command = next(fresh)
    assert isinstance(command, RunTools) and command.calls[0].call_id == "c1"
