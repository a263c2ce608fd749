"""Human in the loop: pause on a tool that needs approval, serialize, decide, resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ascent import Agent, FunctionCallOutput, RunContext, Runner, RunState, UserError, function_tool
from ascent.items import FunctionCall
from ascent.memory import InMemorySession
from ascent.testing import ScriptedModel, ToolCall

from ..sample_tools import lookup

refunds: list[float] = []


@function_tool(needs_approval=True)
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    refunds.append(amount)
    return f"refunded {amount} on {order_id}"


def make_agent(model: ScriptedModel) -> Agent:
    return Agent(name="support", model=model, tools=[refund, lookup])


@pytest.fixture(autouse=True)
def _clear() -> None:
    refunds.clear()


async def test_pause_serialize_approve_and_resume_in_a_fresh_runner() -> None:
    model = ScriptedModel(
        [
            [
                ToolCall("lookup", {"order_id": "A1"}),
                ToolCall("refund", {"order_id": "A1", "amount": 20}),
            ]
        ]
    )
    result = await Runner.run(make_agent(model), "refund A1")
    assert result.is_interrupted and result.final_output is None
    assert [r.tool_name for r in result.interruptions] == ["refund"]
    assert json.loads(result.interruptions[0].arguments) == {"order_id": "A1", "amount": 20}
    assert refunds == []  # nothing ran without approval
    payload = result.state.to_json()

    # later, elsewhere: a new process would rebuild the agent the same way
    state = RunState.from_json(payload)
    state.approve(state.interruptions[0])
    second = ScriptedModel(["Refunded 20 on A1."])
    resumed = await Runner.run(make_agent(second), state)
    assert refunds == [20.0]
    assert resumed.final_output == "Refunded 20 on A1."
    outputs = [i for i in resumed.new_items if isinstance(i, FunctionCallOutput)]
    # the lookup ran once, before the pause; both outputs are there, in call order
    assert [o.tool_name for o in outputs] == ["lookup", "refund"]
    assert resumed.usage.requests == 2
    second.assert_done()


async def test_rejection_reaches_the_model() -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "B2", "amount": 5})])
    result = await Runner.run(make_agent(model), "refund B2")
    state = result.state
    state.reject(state.interruptions[0].call_id, reason="amount too high")
    follow = ScriptedModel(["I could not refund that."])
    resumed = await Runner.run(make_agent(follow), state)
    assert refunds == []
    output = follow.requests[0].input[-1]
    assert isinstance(output, FunctionCallOutput) and output.is_error
    assert "rejected" in output.output and "amount too high" in output.output
    assert resumed.final_output == "I could not refund that."


async def test_approval_decided_per_call_by_a_callable() -> None:
    async def large(ctx: RunContext[Any], args: dict[str, Any]) -> bool:
        return args.get("amount", 0) > 100

    @function_tool(needs_approval=large)
    def pay(amount: float) -> str:
        """Pay."""
        return f"paid {amount}"

    model = ScriptedModel([[ToolCall("pay", {"amount": 10}), ToolCall("pay", {"amount": 500})]])
    result = await Runner.run(Agent(name="p", model=model, tools=[pay]), "pay")
    assert [json.loads(r.arguments)["amount"] for r in result.interruptions] == [500]
    ran = [i for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert ran == []  # outputs join the items only when the whole turn is done
    assert result.state.pending is not None and len(result.state.pending.outputs) == 1


async def test_resume_refuses_undecided_calls_and_wrong_agent() -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "C3", "amount": 1})])
    result = await Runner.run(make_agent(model), "refund")
    with pytest.raises(UserError, match="undecided"):
        await Runner.run(make_agent(ScriptedModel([])), result.state)
    with pytest.raises(UserError, match="started with"):
        await Runner.run(Agent(name="other"), result.state)
    with pytest.raises(UserError, match="no tool call"):
        result.state.approve("not-a-call")


def test_state_from_a_newer_version_is_refused() -> None:
    state = RunState(starting_agent="a", current_agent="a", input=[])
    data = state.to_json().replace('"version":1', '"version":99')
    with pytest.raises(UserError, match="format version 99"):
        RunState.from_json(data)


async def test_state_as_a_dict_survives_json_dump_and_load(tmp_path: Any) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "D4", "amount": 3})])
    result = await Runner.run(make_agent(model), "refund D4")
    data = result.state.to_dict()
    assert isinstance(data, dict) and data["status"] == "awaiting_approval"
    path = tmp_path / "state.json"
    with path.open("w") as file:
        json.dump(data, file)  # one encoding: a JSON object, not a string
    with path.open() as file:
        loaded = json.load(file)
    assert isinstance(loaded, dict)
    assert RunState.from_dict(loaded) == result.state
    state = RunState.from_json(loaded)  # from_json takes the dict form too
    assert state == result.state
    state.approve(state.interruptions[0])
    resumed = await Runner.run(make_agent(ScriptedModel(["Refunded."])), state)
    assert refunds == [3.0] and resumed.final_output == "Refunded."


def test_state_from_dict_refuses_text_and_newer_versions() -> None:
    state = RunState(starting_agent="a", current_agent="a", input=[])
    with pytest.raises(UserError, match="from_json"):
        RunState.from_dict(state.to_json())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="format version 99"):
        RunState.from_dict({**state.to_dict(), "version": 99})


async def test_an_sdk_style_approval_check_gets_the_call_id() -> None:
    asked: list[str] = []

    def check(ctx: RunContext[Any], args: dict[str, Any], call_id: str) -> bool:
        asked.append(call_id)
        return True

    @function_tool(needs_approval=check)
    def pay(amount: float) -> str:
        """Pay."""
        return f"paid {amount}"

    model = ScriptedModel([ToolCall("pay", {"amount": 10})])
    result = await Runner.run(Agent(name="p", model=model, tools=[pay]), "pay")
    assert asked == [result.interruptions[0].call_id] and asked[0]


async def test_a_run_left_paused_does_not_break_the_next_run_on_its_session() -> None:
    """The pause saved the refund's call; nobody resumed it. The next run sends the call
    answered with an error (model APIs refuse a call without its output), and the
    session itself is not rewritten."""
    session = InMemorySession("customer-1")
    model = ScriptedModel([ToolCall("refund", {"order_id": "A1", "amount": 20}), "Hello."])
    paused = await Runner.run(make_agent(model), "refund A1", session=session)
    assert paused.is_interrupted
    [call] = [i for i in await session.get_items() if isinstance(i, FunctionCall)]

    result = await Runner.run(make_agent(model), "hi again", session=session)

    assert result.final_output == "Hello." and refunds == []
    sent = model.requests[-1].input
    answer = sent[sent.index(call) + 1]
    assert isinstance(answer, FunctionCallOutput) and answer.call_id == call.call_id
    assert answer.is_error and "abandoned" in answer.output
    assert answer not in await session.get_items()
