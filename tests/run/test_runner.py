"""The in-process Runner with the scripted model: tools, handoffs, output, hooks, errors."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from ascent import (
    Agent,
    AgentHooks,
    FunctionCallOutput,
    FunctionToolResult,
    InMemorySession,
    MaxTurnsExceeded,
    Message,
    ModelAPIError,
    ModelBehaviorError,
    ModelSettings,
    ProviderCapabilityError,
    RunConfig,
    RunContext,
    RunHooks,
    Runner,
    StopAtTools,
    ToolContext,
    ToolsToFinalOutput,
    UserError,
    WebSearchTool,
    function_tool,
    handoff,
)
from ascent.handoffs import HandoffInputData, remove_tool_items
from ascent.testing import ScriptedModel, Step, ToolCall
from ascent.tracing.redaction import REDACTED

from ..sample_tools import add


async def test_plain_answer() -> None:
    model = ScriptedModel(["Hello!"])
    result = await Runner.run(Agent(name="a", model=model), "hi")
    assert result.final_output == "Hello!"
    assert result.last_agent.name == "a"
    assert [type(i).__name__ for i in result.new_items] == ["Message"]
    assert result.usage.requests == 1 and result.usage.by_agent["a"].requests == 1
    assert result.usage.by_model["scripted"].requests == 1
    model.assert_done()


async def test_tool_call_then_answer_and_to_input_list() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "It is 5."])
    result = await Runner.run(Agent(name="calc", model=model, tools=[add]), "2+3?")
    outputs = [i for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert outputs[0].output == "5" and not outputs[0].is_error
    assert result.final_output == "It is 5."
    assert result.usage.requests == 2
    # the model saw the tool output on its second call
    assert model.requests[1].input[-1].output == "5"  # type: ignore[union-attr]
    # continue the conversation
    follow = ScriptedModel(["Sure."])
    again = await Runner.run(
        Agent(name="calc", model=follow),
        [*result.to_input_list(), Message(role="user", content="ok")],
    )
    assert again.final_output == "Sure."
    assert len(follow.requests[0].input) == 5


async def test_bad_arguments_and_malformed_json_go_back_to_the_model() -> None:
    model = ScriptedModel(
        [
            ToolCall("add", {"a": "two", "b": 3}),
            ToolCall("add", "{not json"),
            ToolCall("add", {"a": 2, "b": 3}),
            "5",
        ]
    )
    result = await Runner.run(Agent(name="calc", model=model, tools=[add]), "2+3?")
    outputs = [i for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert [o.is_error for o in outputs] == [True, True, False]
    assert "invalid arguments" in outputs[0].output and "a" in outputs[0].output
    assert "invalid arguments" in outputs[1].output
    assert result.final_output == "5"


async def test_the_model_reads_the_invalid_arguments_prefix_once() -> None:
    model = ScriptedModel([ToolCall("add", {"a": "two", "b": 3}), "5"])
    result = await Runner.run(Agent(name="calc", model=model, tools=[add]), "2+3?")
    (output,) = [i for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert output.output.startswith("Error: invalid arguments for tool 'add': a: ")
    assert output.output.count("invalid arguments") == 1
    assert output.output.endswith("Fix the arguments and call the tool again.")


async def test_tool_exception_and_unknown_tool_reach_the_model() -> None:
    @function_tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    model = ScriptedModel([[ToolCall("explode"), ToolCall("nope", call_id="x")], "sorry"])
    result = await Runner.run(Agent(name="a", model=model, tools=[explode]), "go")
    outputs = {i.call_id: i for i in result.new_items if isinstance(i, FunctionCallOutput)}
    assert "disk on fire" in outputs["call_1_0"].output and outputs["call_1_0"].is_error
    assert "no tool named 'nope'" in outputs["x"].output
    assert result.final_output == "sorry"


async def test_a_failing_tools_log_line_is_redacted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The message and the traceback (whose source lines may hold secrets too)."""
    monkeypatch.setenv("OPENAI_API_KEY", "provider-key-from-env-31415")

    @function_tool
    def login(user: str) -> str:
        """Always refused."""
        raise RuntimeError(f"{user}: password=hunter2 key=provider-key-from-env-31415")

    model = ScriptedModel([ToolCall("login", {"user": "ada"}), "sorry"])
    with caplog.at_level(logging.WARNING, logger="ascent"):
        await Runner.run(Agent(name="a", model=model, tools=[login]), "go")
    assert "tool 'login' failed" in caplog.text and "Traceback" in caplog.text
    assert "hunter2" not in caplog.text and "provider-key-from-env-31415" not in caplog.text
    assert f"RuntimeError: ada: password={REDACTED} key={REDACTED}" in caplog.text


async def test_parallel_tool_calls_overlap_in_time() -> None:
    spans: list[tuple[float, float]] = []

    @function_tool
    async def slow(n: int) -> int:
        """Sleep a little."""
        start = time.perf_counter()
        await asyncio.sleep(0.2)
        spans.append((start, time.perf_counter()))
        return n

    @function_tool
    def blocking(n: int) -> int:
        """A sync tool: runs in a worker thread, so it overlaps too."""
        start = time.perf_counter()
        time.sleep(0.2)
        spans.append((start, time.perf_counter()))
        return n

    calls = [ToolCall("slow", {"n": 1}), ToolCall("slow", {"n": 2}), ToolCall("blocking", {"n": 3})]
    model = ScriptedModel([calls, "done"])
    await Runner.run(Agent(name="a", model=model, tools=[slow, blocking]), "go")
    assert len(spans) == 3
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end  # all three were running at the same moment


async def test_tool_timeout_is_reported_to_the_model() -> None:
    @function_tool(timeout=0.05)
    async def sleepy() -> str:
        """Too slow."""
        await asyncio.sleep(5)
        return "never"

    model = ScriptedModel([ToolCall("sleepy"), "gave up"])
    result = await Runner.run(Agent(name="a", model=model, tools=[sleepy]), "go")
    output = next(i for i in result.new_items if isinstance(i, FunctionCallOutput))
    assert output.is_error and "timed out" in output.output


async def test_handoff_chain_of_three_agents_and_back() -> None:
    model = ScriptedModel(
        [
            ToolCall("transfer_to_billing"),
            ToolCall("transfer_to_refunds"),
            ToolCall("transfer_to_triage"),
            "Back at triage: all done.",
        ]
    )
    triage = Agent(name="triage", model=model)
    refunds = Agent(name="refunds", model=model, handoffs=[triage])
    billing = Agent(name="billing", model=model, handoffs=[refunds])
    triage.handoffs = [billing]
    result = await Runner.run(triage, "refund please")
    assert result.last_agent is triage
    handoffs = [
        (i.agent, i.handoff_to)
        for i in result.new_items
        if isinstance(i, FunctionCallOutput) and i.handoff_to
    ]
    assert handoffs == [("triage", "billing"), ("billing", "refunds"), ("refunds", "triage")]
    assert result.usage.by_agent.keys() == {"triage", "billing", "refunds"}
    # each agent saw its own handoff tools
    tool_names = [[t.name for t in r.tools] for r in model.requests]
    assert tool_names[0] == ["transfer_to_billing"]
    assert tool_names[1] == ["transfer_to_refunds"]


async def test_handoff_cycle_is_bounded_by_max_turns() -> None:
    model = ScriptedModel([ToolCall("transfer_to_b"), ToolCall("transfer_to_a")] * 3)
    a = Agent(name="a", model=model)
    b = Agent(name="b", model=model, handoffs=[a])
    a.handoffs = [b]
    with pytest.raises(MaxTurnsExceeded) as info:
        await Runner.run(a, "ping", max_turns=4)
    assert len([i for i in info.value.items if isinstance(i, FunctionCallOutput)]) == 4


async def test_handoff_with_input_type_callback_and_filter() -> None:
    class Escalation(BaseModel):
        reason: str

    seen: list[str] = []

    async def on_handoff(ctx: RunContext[Any], data: Escalation) -> None:
        seen.append(data.reason)

    def only_messages(data: HandoffInputData) -> HandoffInputData:
        return remove_tool_items(data)

    model = ScriptedModel(
        [
            ToolCall("lookup"),
            ToolCall("escalate", {"reason": 42}),  # invalid: reason must be a string
            ToolCall("escalate", {"reason": "angry customer"}),
            "Manager here.",
        ]
    )

    @function_tool
    def lookup() -> str:
        """Look something up."""
        return "found"

    manager = Agent(name="manager", model=model)
    front = Agent(
        name="front",
        model=model,
        tools=[lookup],
        handoffs=[
            handoff(
                manager,
                tool_name_override="escalate",
                input_type=Escalation,
                on_handoff=on_handoff,
                input_filter=only_messages,
            )
        ],
    )
    result = await Runner.run(front, "help")
    assert seen == ["angry customer"]
    assert result.last_agent is manager
    # the invalid handoff went back to the front agent as an error it could fix
    error = model.requests[2].input[-1]
    assert isinstance(error, FunctionCallOutput) and error.is_error and "reason" in error.output
    assert model.requests[2].tools[-1].name == "escalate"  # type: ignore[union-attr]
    # the manager saw no tool calls or outputs: the filter removed them
    manager_input = model.requests[-1].input
    assert all(i.type == "message" for i in manager_input)


async def test_structured_output_is_validated_and_repaired() -> None:
    class Weather(BaseModel):
        city: str
        celsius: float

    model = ScriptedModel(['{"city": "Oslo"}', Weather(city="Oslo", celsius=-3.5)])
    result = await Runner.run(Agent(name="w", model=model, output_type=Weather), "weather?")
    assert result.final_output == Weather(city="Oslo", celsius=-3.5)
    assert model.requests[0].output is not None
    assert "celsius" in model.requests[1].input[-1].text  # type: ignore[union-attr]
    assert result.final_output_as(Weather).celsius == -3.5


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (int, '{"response": 7}', 7),
        (list[str], '{"response": ["a", "b"]}', ["a", "b"]),
    ],
)
async def test_structured_output_primitives(output_type: Any, text: str, expected: Any) -> None:
    result = await Runner.run(
        Agent(name="p", model=ScriptedModel([text]), output_type=output_type), "x"
    )
    assert result.final_output == expected


async def test_structured_output_dataclass() -> None:
    @dataclass
    class Point:
        x: int
        y: int

    result = await Runner.run(
        Agent(name="p", model=ScriptedModel(['{"x": 1, "y": 2}']), output_type=Point), "x"
    )
    assert result.final_output == Point(1, 2)


async def test_structured_output_gives_up_with_clear_error() -> None:
    class Out(BaseModel):
        n: int

    model = ScriptedModel(["nope", "still no", "no!"])
    with pytest.raises(ModelBehaviorError, match="after 3 attempts"):
        await Runner.run(Agent(name="o", model=model, output_type=Out), "x")


@dataclass
class User:
    name: str
    calls: int = 0


async def test_dynamic_instructions_and_context_injection() -> None:
    async def instructions(ctx: RunContext[User], agent: Agent[User]) -> str:
        return f"Help {ctx.context.name}. You are {agent.name}."

    @function_tool
    def whoami(ctx: ToolContext[User]) -> str:
        """Who is asking."""
        ctx.context.calls += 1
        assert ctx.tool_name == "whoami" and ctx.call_id
        return ctx.context.name

    user = User("Ada")
    model = ScriptedModel([ToolCall("whoami"), "You are Ada."])
    result = await Runner.run(
        Agent(name="helper", model=model, instructions=instructions, tools=[whoami]),
        "?",
        context=user,
    )
    assert model.requests[0].instructions == "Help Ada. You are helper."
    assert user.calls == 1
    assert result.new_items[1].output == "Ada"  # type: ignore[union-attr]


async def test_tool_use_behaviors() -> None:
    @function_tool
    def weather(city: str) -> str:
        """Weather."""
        return f"sunny in {city}"

    first = ScriptedModel([ToolCall("weather", {"city": "Rome"})])
    result = await Runner.run(
        Agent(name="a", model=first, tools=[weather], tool_use_behavior="stop_on_first_tool"), "x"
    )
    assert result.final_output == "sunny in Rome"

    named = ScriptedModel(
        [ToolCall("add", {"a": 1, "b": 1}), ToolCall("weather", {"city": "Oslo"})]
    )
    result = await Runner.run(
        Agent(
            name="a", model=named, tools=[weather, add], tool_use_behavior=StopAtTools("weather")
        ),
        "x",
    )
    assert result.final_output == "sunny in Oslo"

    async def decide(ctx: RunContext[Any], outputs: list[FunctionToolResult]) -> ToolsToFinalOutput:
        return ToolsToFinalOutput(is_final_output=True, final_output=f"custom:{outputs[0].output}")

    custom = ScriptedModel([ToolCall("add", {"a": 2, "b": 2})])
    result = await Runner.run(
        Agent(name="a", model=custom, tools=[add], tool_use_behavior=decide), "x"
    )
    assert result.final_output == "custom:4"


async def test_tool_choice_required_is_reset_after_a_tool_ran() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "3"])
    agent = Agent(
        name="a", model=model, tools=[add], model_settings=ModelSettings(tool_choice="required")
    )
    await Runner.run(agent, "x")
    assert model.requests[0].settings.tool_choice == "required"
    assert model.requests[1].settings.tool_choice is None


async def test_run_config_overrides_model_and_settings() -> None:
    model = ScriptedModel(["hi"])
    agent = Agent(
        name="a", model="offline", model_settings=ModelSettings(temperature=0.1, top_p=0.5)
    )
    await Runner.run(
        agent, "x", run_config=RunConfig(model=model, model_settings=ModelSettings(temperature=0.9))
    )
    settings = model.requests[0].settings
    assert settings.temperature == 0.9 and settings.top_p == 0.5


async def test_agent_as_tool_keeps_control_with_the_caller() -> None:
    inner_model = ScriptedModel(["Bonjour"])
    translator = Agent(name="translator", model=inner_model, instructions="Translate to French.")
    outer_model = ScriptedModel([ToolCall("translate", {"input": "Hello"}), "It is 'Bonjour'."])
    boss = Agent(
        name="boss",
        model=outer_model,
        tools=[translator.as_tool(name="translate", description="Translate text to French.")],
    )
    result = await Runner.run(boss, "Say hello in French")
    assert result.last_agent is boss
    assert result.final_output == "It is 'Bonjour'."
    outputs = [i for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert outputs[0].output == "Bonjour"
    assert inner_model.requests[0].instructions == "Translate to French."
    assert result.usage.by_agent.keys() == {"boss", "translator"}
    assert result.usage.requests == 3


async def test_hooks_see_the_lifecycle_in_order() -> None:
    events: list[str] = []

    class Recorder(RunHooks[Any]):
        async def on_agent_start(self, context: RunContext[Any], agent: Agent[Any]) -> None:
            events.append(f"start:{agent.name}")

        async def on_agent_end(
            self, context: RunContext[Any], agent: Agent[Any], output: Any
        ) -> None:
            events.append(f"end:{agent.name}:{output}")

        async def on_llm_start(
            self, context: RunContext[Any], agent: Agent[Any], instructions: Any, input: Any
        ) -> None:
            events.append("llm_start")

        async def on_llm_end(
            self, context: RunContext[Any], agent: Agent[Any], response: Any
        ) -> None:
            events.append("llm_end")

        async def on_tool_start(
            self, context: RunContext[Any], agent: Agent[Any], call: Any
        ) -> None:
            events.append(f"tool_start:{call.name}")

        async def on_tool_end(
            self, context: RunContext[Any], agent: Agent[Any], call: Any, output: Any
        ) -> None:
            events.append(f"tool_end:{output.output}")

        async def on_handoff(
            self, context: RunContext[Any], from_agent: Agent[Any], to_agent: Agent[Any]
        ) -> None:
            events.append(f"handoff:{from_agent.name}->{to_agent.name}")

    class SpecialistHooks(AgentHooks[Any]):
        async def on_handoff(
            self, context: RunContext[Any], agent: Agent[Any], source: Agent[Any]
        ) -> None:
            events.append(f"agent_hook:handed_from:{source.name}")

    model = ScriptedModel(
        [ToolCall("add", {"a": 1, "b": 1}), ToolCall("transfer_to_specialist"), "2"]
    )
    specialist = Agent(name="specialist", model=model, hooks=SpecialistHooks())
    agent = Agent(name="front", model=model, tools=[add], handoffs=[specialist])
    await Runner.run(agent, "1+1", hooks=Recorder())
    assert events == [
        "start:front",
        "llm_start",
        "llm_end",
        "tool_start:add",
        "tool_end:2",
        "llm_start",
        "llm_end",
        "handoff:front->specialist",
        "agent_hook:handed_from:front",
        "start:specialist",
        "llm_start",
        "llm_end",
        "end:specialist:2",
    ]


async def test_session_keeps_the_conversation() -> None:
    session = InMemorySession("s1")
    model = ScriptedModel(["Nice to meet you, Ada.", "Your name is Ada."])
    agent = Agent(name="a", model=model)
    await Runner.run(agent, "I am Ada", session=session)
    result = await Runner.run(agent, "What is my name?", session=session)
    assert result.final_output == "Your name is Ada."
    texts = [i.text for i in model.requests[1].input if isinstance(i, Message)]
    assert texts == ["I am Ada", "Nice to meet you, Ada.", "What is my name?"]
    assert len(await session.get_items()) == 4


async def test_model_errors_raise_clearly() -> None:
    model = ScriptedModel(
        [ModelAPIError("rate limited", provider="x", status_code=429, attempts=4)]
    )
    with pytest.raises(ModelAPIError, match="429"):
        await Runner.run(Agent(name="a", model=model), "x")


async def test_hosted_tools_need_a_provider_that_has_them() -> None:
    model = ScriptedModel(["x"], supports_hosted_tools=False)
    with pytest.raises(ProviderCapabilityError, match="web_search"):
        await Runner.run(Agent(name="a", model=model, tools=[WebSearchTool()]), "x")
    hosted = ScriptedModel(
        [
            Step(
                items=[{"type": "web_search_call", "id": "ws_1", "status": "completed"}],  # type: ignore[list-item]
                text="Found it.",
            )
        ]
    )
    result = await Runner.run(Agent(name="a", model=hosted, tools=[WebSearchTool()]), "search")
    assert result.new_items[0].type == "web_search_call"
    assert hosted.requests[0].tools[0].kind == "web_search"  # type: ignore[union-attr]


def test_run_sync_with_and_without_a_running_loop() -> None:
    agent = Agent(name="a", model=ScriptedModel(["one", "two"]))
    assert Runner.run_sync(agent, "x").final_output == "one"

    async def inside_a_loop() -> str:
        # as in Jupyter or a FastAPI handler: a loop is already running here
        return Runner.run_sync(agent, "y").final_output

    assert asyncio.run(inside_a_loop()) == "two"


def test_run_sync_inside_loop_uses_another_thread() -> None:
    threads: list[str] = []

    @function_tool
    async def where() -> str:
        """Thread name."""
        threads.append(threading.current_thread().name)
        return "here"

    agent = Agent(name="a", model=ScriptedModel([ToolCall("where"), "ok"]), tools=[where])

    async def main() -> None:
        Runner.run_sync(agent, "x")

    asyncio.run(main())
    assert threads and threads[0] != threading.main_thread().name


async def test_duplicate_agent_names_are_rejected() -> None:
    a1 = Agent(name="twin", model=ScriptedModel([]))
    a2 = Agent(name="twin", model=ScriptedModel([]))
    front = Agent(name="front", handoffs=[a1, a2])
    with pytest.raises(UserError, match="twin"):
        await Runner.run(front, "x")


def test_clone_copies_lists() -> None:
    base = Agent(name="a", tools=[add])
    copy = base.clone(name="b")
    copy.tools.append(add)
    assert len(base.tools) == 1 and copy.name == "b"


async def test_resume_after_max_turns_with_a_larger_budget() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 1}), "2"])
    agent = Agent(name="a", model=model, tools=[add])
    with pytest.raises(MaxTurnsExceeded) as info:
        await Runner.run(agent, "1+1", max_turns=1)
    state = info.value.state
    state.max_turns += 1
    result = await Runner.run(agent, state)
    assert result.final_output == "2"
    assert [i.type for i in result.new_items] == [
        "function_call",
        "function_call_output",
        "message",
    ]
