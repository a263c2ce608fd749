"""Features users of the OpenAI Agents SDK reach for first, in process: ``is_enabled``
on tools, handoffs and agent tools; blocking input guardrails; the run-wide
handoff and model-input filters; what an unknown tool does; ``as_tool`` options.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from ascent import (
    Agent,
    FunctionCall,
    InputGuardrailTripwireTriggered,
    Message,
    ModelBehaviorError,
    RunConfig,
    Runner,
    UserError,
    function_tool,
    handoff,
    input_guardrail,
)
from ascent.context import RunContext
from ascent.guardrails import InputGuardrail
from ascent.handoffs import HandoffInputData
from ascent.items import FunctionCallOutput, Item
from ascent.memory import InMemorySession
from ascent.models.base import FunctionToolSpec, ModelRequest
from ascent.run.commands import CallModel, CheckEnabled, command_result_adapter
from ascent.run.config import CallModelData, ModelInputData
from ascent.run.graph import AgentGraph
from ascent.run.loop import agent_loop
from ascent.run.state import RunState
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall

from ..sample_tools import add, lookup


def offered(request: ModelRequest) -> list[str]:
    return [t.name for t in request.tools if isinstance(t, FunctionToolSpec)]


def outputs(result: Any) -> list[FunctionCallOutput]:
    return [i for i in result.new_items if isinstance(i, FunctionCallOutput)]


# ------------------------------------------------------------------ is_enabled


@function_tool(is_enabled=False)
def secret() -> str:
    """Never offered."""
    return "secret"


async def test_a_disabled_tool_is_not_offered_and_a_call_to_it_is_an_unknown_tool() -> None:
    model = ScriptedModel([ToolCall("secret"), "Done."])
    agent = Agent(name="a", model=model, tools=[lookup, secret])
    result = await Runner.run(agent, "hi")
    assert offered(model.requests[0]) == ["lookup"]
    [output] = outputs(result)
    assert output.is_error and "no tool named 'secret'" in output.output
    assert "Available tools: lookup." in output.output  # the disabled one is not listed


async def test_is_enabled_is_asked_on_every_model_call_with_the_context_and_agent() -> None:
    seen: list[tuple[Any, str]] = []

    async def only_for_admins(ctx: RunContext[dict[str, bool]], agent: Agent[Any]) -> bool:
        seen.append((dict(ctx.context), agent.name))
        return ctx.context["admin"]

    @function_tool(is_enabled=only_for_admins)
    def wipe() -> str:
        """Wipe everything."""
        ctx_box["admin"] = False  # the next call will not offer it
        return "wiped"

    ctx_box = {"admin": True}
    model = ScriptedModel([ToolCall("wipe"), "All gone."])
    agent = Agent(name="ops", model=model, tools=[wipe, add])
    result = await Runner.run(agent, "wipe it", context=ctx_box)
    assert result.final_output == "All gone."
    assert [offered(r) for r in model.requests] == [["wipe", "add"], ["add"]]
    assert seen == [({"admin": True}, "ops"), ({"admin": False}, "ops")]


async def test_a_disabled_handoff_is_not_offered_and_the_model_cannot_take_it() -> None:
    billing = Agent(name="billing", model=ScriptedModel(["never"]))
    model = ScriptedModel([ToolCall("transfer_to_billing"), "I stay."])
    front = Agent(
        name="front",
        model=model,
        handoffs=[handoff(billing, is_enabled=lambda ctx, agent: False)],
    )
    result = await Runner.run(front, "bill me")
    assert offered(model.requests[0]) == []
    assert result.last_agent.name == "front" and result.final_output == "I stay."
    [output] = outputs(result)
    assert output.is_error and "no tool named 'transfer_to_billing'" in output.output


async def test_an_enabled_conditional_handoff_still_hands_off() -> None:
    billing = Agent(name="billing", model=ScriptedModel(["Billing here."]))
    front = Agent(
        name="front",
        model=ScriptedModel([ToolCall("transfer_to_billing")]),
        handoffs=[handoff(billing, is_enabled=lambda ctx, agent: agent.name == "front")],
    )
    result = await Runner.run(front, "bill me")
    assert result.last_agent.name == "billing" and result.final_output == "Billing here."


async def test_an_agent_tool_can_be_disabled() -> None:
    helper = Agent(name="helper", model=ScriptedModel([]))
    model = ScriptedModel(["No help needed."])
    agent = Agent(
        name="main",
        model=model,
        tools=[helper.as_tool(is_enabled=False), helper.as_tool(name="helper2")],
    )
    await Runner.run(agent, "hi")
    assert offered(model.requests[0]) == ["helper2"]


def test_is_enabled_is_a_recorded_command_only_for_agents_that_have_conditions() -> None:
    plain = Agent(name="plain", tools=[lookup])
    state = RunState(
        starting_agent="plain", current_agent="plain", input=[Message(role="user", content="hi")]
    )
    first = next(agent_loop(state, AgentGraph(plain)))
    assert isinstance(first, CallModel) and first.disabled == []

    conditional = Agent(name="cond", tools=[lookup, secret])
    state = RunState(
        starting_agent="cond", current_agent="cond", input=[Message(role="user", content="hi")]
    )
    loop = agent_loop(state, AgentGraph(conditional))
    check = next(loop)
    assert isinstance(check, CheckEnabled) and check.agent == "cond"
    adapter = command_result_adapter("check_enabled")
    command = loop.send(adapter.validate_json(adapter.dump_json(["secret"])))
    assert isinstance(command, CallModel) and command.disabled == ["secret"]
    again = RunState.from_json(state.to_json())  # the turn's verdict travels with the state
    assert again.disabled_tools == ["secret"]


# ------------------------------------------------------- blocking input guardrails


async def test_a_tripped_blocking_input_guardrail_means_the_model_is_never_called() -> None:
    @input_guardrail(run_in_parallel=False)
    def no_secrets(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        return "password" in str(items[-1])

    model = ScriptedModel(["should not happen"])
    agent = Agent(name="a", model=model, input_guardrails=[no_secrets])
    with pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(agent, "my password is hunter2")
    assert model.requests == []


async def test_blocking_guardrails_finish_before_the_call_and_parallel_ones_run_beside_it() -> None:
    model = ScriptedModel(["Hello."])
    calls_when_checked: dict[str, int] = {}

    @input_guardrail(run_in_parallel=False)
    def first(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        calls_when_checked["first"] = len(model.requests)
        return False

    @input_guardrail
    def beside(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        return False

    assert not first.run_in_parallel and beside.run_in_parallel
    agent = Agent(name="a", model=model, input_guardrails=[first, beside])
    result = await Runner.run(agent, "hi")
    assert result.final_output == "Hello." and len(model.requests) == 1
    assert calls_when_checked == {"first": 0}
    assert [r.name for r in result.state.guardrail_results] == ["first", "beside"]


async def test_a_blocking_classifier_guardrail_stops_the_run_before_the_model() -> None:
    classifier = Agent(name="classifier", model=ScriptedModel(["unsafe"]))
    guard = InputGuardrail.from_agent(
        classifier, trip_if=lambda verdict: verdict == "unsafe", run_in_parallel=False
    )
    model = ScriptedModel([])
    agent = Agent(name="a", model=model, input_guardrails=[guard])
    with pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(agent, "hi")
    assert model.requests == []


async def test_a_run_wide_blocking_guardrail_passes_and_the_run_goes_on() -> None:
    @input_guardrail(run_in_parallel=False)
    def fine(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        return False

    model = ScriptedModel(["ok"])
    result = await Runner.run(
        Agent(name="a", model=model), "hi", run_config=RunConfig(input_guardrails=[fine])
    )
    assert result.final_output == "ok" and len(model.requests) == 1


# ------------------------------------------------------------------ RunConfig


def _keep_last_input(data: HandoffInputData) -> HandoffInputData:
    return HandoffInputData(input_history=data.input_history[-1:], new_items=())


async def test_the_run_wide_handoff_filter_applies_where_a_handoff_has_none() -> None:
    billing_model = ScriptedModel(["Billing.", "Billing again."])
    billing = Agent(name="billing", model=billing_model)
    front = Agent(
        name="front", model=ScriptedModel([ToolCall("transfer_to_billing")]), handoffs=[billing]
    )
    history: list[Any] = [
        Message(role="user", content="first"),
        Message.assistant("ok"),
        Message(role="user", content="bill me"),
    ]
    config = RunConfig(handoff_input_filter=_keep_last_input)
    await Runner.run(front, history, run_config=config)
    seen = billing_model.requests[0].input
    assert [getattr(i, "text", None) for i in seen] == ["bill me"]

    # a handoff's own filter wins over the run's
    def keep_all(data: HandoffInputData) -> HandoffInputData:
        return data

    front2 = Agent(
        name="front",
        model=ScriptedModel([ToolCall("transfer_to_billing")]),
        handoffs=[handoff(billing, input_filter=keep_all)],
    )
    await Runner.run(front2, history, run_config=config)
    assert len(billing_model.requests[1].input) == 5  # history, the call, its output


async def test_call_model_input_filter_edits_each_call_but_not_the_runs_items() -> None:
    received: list[CallModelData[Any]] = []

    async def trim(data: CallModelData[Any]) -> ModelInputData:
        received.append(data)
        kept = data.model_data.input[-1:]
        for item in data.model_data.input:
            if isinstance(item, Message):
                item.content = "EDITED"  # a copy: the run keeps its own items
        return ModelInputData(instructions="Be terse.", input=kept)

    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    agent = Agent(name="a", instructions="Be kind.", model=model, tools=[lookup])
    session = InMemorySession()
    result = await Runner.run(
        agent,
        "where is A-1?",
        context={"user": 7},
        session=session,
        run_config=RunConfig(call_model_input_filter=trim),
    )
    assert [len(r.input) for r in model.requests] == [1, 1]
    assert {r.instructions for r in model.requests} == {"Be terse."}
    assert model.requests[0].input[0].text == "EDITED"  # type: ignore[union-attr]
    assert isinstance(model.requests[1].input[0], FunctionCallOutput)
    assert received[0].agent is agent and received[0].context == {"user": 7}
    assert received[0].model_data.instructions == "Be kind."
    assert len(received[1].model_data.input) == 3  # the run's own items: input, call, output
    assert result.input[0].text == "where is A-1?"  # type: ignore[union-attr]
    stored = await session.get_items()
    assert stored[0].text == "where is A-1?" and len(stored) == 4  # type: ignore[union-attr]


async def test_a_call_model_input_filter_must_return_model_input_data() -> None:
    config = RunConfig(call_model_input_filter=lambda data: data.model_data.input)  # type: ignore[arg-type,return-value]
    with pytest.raises(UserError, match="must return ModelInputData"):
        await Runner.run(Agent(name="a", model=ScriptedModel(["x"])), "hi", run_config=config)


async def test_an_unknown_tool_is_an_error_to_the_model_by_default_or_raises() -> None:
    model = ScriptedModel([ToolCall("nope"), "Sorry."])
    result = await Runner.run(Agent(name="a", model=model, tools=[lookup]), "hi")
    assert result.final_output == "Sorry." and outputs(result)[0].is_error

    model = ScriptedModel([[ToolCall("lookup", {"order_id": "A"}), ToolCall("nope")]])
    ran: list[str] = []

    @function_tool
    def track(order_id: str) -> str:
        """Track."""
        ran.append(order_id)
        return "ok"

    agent = Agent(name="a", model=model, tools=[lookup, track])
    with pytest.raises(ModelBehaviorError, match=r"called 'nope'.*available: lookup, track"):
        await Runner.run(agent, "hi", run_config=RunConfig(on_unknown_tool="raise"))
    assert ran == []  # no tool of that response ran


def test_on_unknown_tool_takes_only_its_two_values() -> None:
    with pytest.raises(UserError, match="on_unknown_tool"):
        RunConfig(on_unknown_tool="ignore")  # type: ignore[arg-type]


# ------------------------------------------------------------------- as_tool


class Translation(BaseModel):
    text: str
    language: str


async def test_as_tool_parameters_shape_the_schema_and_the_inner_input() -> None:
    inner = ScriptedModel(["Bonjour"])
    translator = Agent(name="translator", model=inner)
    tool = translator.as_tool(parameters=Translation, description="Translate text.")
    assert tool.parameters["required"] == ["text", "language"] and tool.strict
    outer = ScriptedModel(
        [
            ToolCall("translator", {"text": "Hello", "language": "French"}),
            ToolCall("translator", {"text": "Hello"}),
            "Bonjour!",
        ]
    )
    result = await Runner.run(Agent(name="main", model=outer, tools=[tool]), "translate")
    assert json.loads(inner.requests[0].input[0].text) == {  # type: ignore[union-attr]
        "text": "Hello",
        "language": "French",
    }
    first, second = outputs(result)
    assert first.output == "Bonjour" and not first.is_error
    assert second.is_error and "language" in second.output  # bad arguments reach the model


def test_as_tool_parameters_must_be_a_pydantic_model() -> None:
    with pytest.raises(UserError, match="Pydantic model"):
        Agent(name="x").as_tool(parameters=dict)  # type: ignore[arg-type]


async def test_as_tool_run_config_and_session_are_the_inner_runs() -> None:
    default_inner = ScriptedModel([])
    chosen = ScriptedModel(["one", "two"])
    helper = Agent(name="helper", model=default_inner)
    session = InMemorySession()
    tool = helper.as_tool(run_config=RunConfig(model=chosen), session=session)
    outer = ScriptedModel(
        [ToolCall("helper", {"input": "first"}), ToolCall("helper", {"input": "second"}), "ok"]
    )
    await Runner.run(Agent(name="main", model=outer, tools=[tool]), "go")
    assert default_inner.requests == [] and len(chosen.requests) == 2
    # the second inner run saw the first one's conversation, from its session
    texts = [getattr(i, "text", None) for i in chosen.requests[1].input]
    assert texts == ["first", "one", "second"]
    assert len(await session.get_items()) == 4


async def test_custom_output_extractor_sync_or_async_sets_the_tool_output() -> None:
    async def shout(result: Any) -> str:
        return str(result.final_output).upper()

    helper = Agent(name="helper", model=ScriptedModel(["quiet", "calm"]))
    tools = [
        helper.as_tool(name="loud", custom_output_extractor=shout),
        helper.as_tool(name="count", custom_output_extractor=lambda r: f"{len(r.new_items)} items"),
    ]
    outer = ScriptedModel(
        [[ToolCall("loud", {"input": "a"})], [ToolCall("count", {"input": "b"})], "ok"]
    )
    result = await Runner.run(Agent(name="main", model=outer, tools=tools), "go")
    assert [o.output for o in outputs(result)] == ["QUIET", "1 items"]


async def test_function_call_items_keep_their_names() -> None:
    # a sanity check that a disabled tool leaves the recorded call as the model made it
    model = ScriptedModel([ToolCall("secret"), "x"])
    result = await Runner.run(Agent(name="a", model=model, tools=[secret]), "hi")
    calls = [i for i in result.new_items if isinstance(i, FunctionCall)]
    assert [c.name for c in calls] == ["secret"]


async def test_a_streamed_run_with_a_blocking_guardrail_streams_as_usual() -> None:
    @input_guardrail(run_in_parallel=False)
    def fine(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        return False

    agent = Agent(name="a", model=ScriptedModel(["Hello there."]), input_guardrails=[fine])
    streamed = Runner.run_streamed(agent, "hi")
    kinds = [event.type async for event in streamed.stream_events()]
    assert kinds.count("agent_changed") == 1 and "response_discarded" not in kinds
    assert streamed.final_output == "Hello there."
