"""tool_use_behavior sees what tools returned, and a tool's value can be the final output.

Values are recorded as JSON data (the state, a durable run's record) and typed
again through the tool's declared return type, so a run whose command results
went through JSON ends with the same typed output as one that ran in process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel

from ascent import (
    Agent,
    FunctionToolResult,
    RunConfig,
    RunContext,
    Runner,
    RunState,
    StopAtTools,
    ToolsToFinalOutput,
    function_tool,
)
from ascent.run.commands import Command, command_result_adapter
from ascent.run.interpreter import Interpreter
from ascent.run.start import run_agent
from ascent.testing import ScriptedModel, ToolCall


class Weather(BaseModel):
    city: str
    celsius: float
    day: dt.date


@function_tool
def weather(city: str) -> Weather:
    """The weather in a city."""
    return Weather(city=city, celsius=21.5, day=dt.date(2026, 5, 1))


@function_tool
def totals(n: int) -> dict[str, int]:
    """Totals."""
    return {"n": n, "double": 2 * n}


@function_tool
def untyped(city: str):  # type: ignore[no-untyped-def]
    """No declared return type."""
    return Weather(city=city, celsius=1.0, day=dt.date(2026, 1, 1))


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


@function_tool
def opaque() -> Opaque:
    """Returns something JSON cannot express."""
    return Opaque()


@function_tool(needs_approval=True)
def book(city: str) -> str:
    """Book a trip."""
    return f"booked {city}"


class ThroughJson(Interpreter):
    """Every command's result goes through JSON, as a durable run records and replays it."""

    async def execute(self, command: Command) -> object:
        result = await super().execute(command)
        adapter = command_result_adapter(command.kind)
        return adapter.validate_json(adapter.dump_json(result))


async def run(agent: Agent[Any], how: str) -> Any:
    if how == "through_json":
        return await run_agent(agent, "go", config=RunConfig(), interpreter=ThroughJson)
    if how == "streamed":
        result = Runner.run_streamed(agent, "go")
        async for _ in result.stream_events():
            pass
        return result
    return await Runner.run(agent, "go")


HOW = ["in_process", "streamed", "through_json"]


@pytest.mark.parametrize("how", HOW)
async def test_stop_on_first_tool_ends_with_the_tools_value(how: str) -> None:
    model = ScriptedModel([ToolCall("weather", {"city": "Rome"})])
    agent = Agent(name="a", model=model, tools=[weather], tool_use_behavior="stop_on_first_tool")
    result = await run(agent, how)
    assert result.final_output == Weather(city="Rome", celsius=21.5, day=dt.date(2026, 5, 1))
    # what the state keeps stays JSON data, and restores to the same typed value
    state = result.state
    assert state.final_output == {"city": "Rome", "celsius": 21.5, "day": "2026-05-01"}
    assert RunState.from_json(state.to_json()) == state


@pytest.mark.parametrize("how", HOW)
async def test_stop_at_tools_keeps_containers_and_numbers(how: str) -> None:
    model = ScriptedModel([ToolCall("totals", {"n": 4})])
    agent = Agent(name="a", model=model, tools=[totals], tool_use_behavior=StopAtTools("totals"))
    result = await run(agent, how)
    assert result.final_output == {"n": 4, "double": 8}


@pytest.mark.parametrize("how", HOW)
async def test_a_custom_behavior_sees_the_values(how: str) -> None:
    seen: list[FunctionToolResult] = []

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutput:
        seen.extend(results)
        forecast = next(r.output for r in results if r.tool_name == "weather")
        return ToolsToFinalOutput(is_final_output=True, final_output=forecast)

    model = ScriptedModel([[ToolCall("weather", {"city": "Oslo"}), ToolCall("totals", {"n": 1})]])
    agent = Agent(name="a", model=model, tools=[weather, totals], tool_use_behavior=decide)
    result = await run(agent, how)
    first, second = seen
    assert isinstance(first.output, Weather) and first.output.city == "Oslo"
    assert first.item.output == first.output.model_dump_json()  # the text the model reads
    assert first.tool is weather and not first.is_error and first.call_id == first.item.call_id
    assert second.output == {"n": 1, "double": 2}
    assert isinstance(result.final_output, Weather)  # one of the values: typed again


async def test_a_custom_behavior_may_go_on_or_end_with_its_own_value() -> None:
    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutput:
        total = results[0].output
        if total["n"] < 3:
            return ToolsToFinalOutput(is_final_output=False)
        return ToolsToFinalOutput(is_final_output=True, final_output={"sum": total["double"]})

    model = ScriptedModel([ToolCall("totals", {"n": 1}), ToolCall("totals", {"n": 5})])
    agent = Agent(name="a", model=model, tools=[totals], tool_use_behavior=decide)
    result = await Runner.run(agent, "go")
    assert result.final_output == {"sum": 10}
    assert result.usage.requests == 2


async def test_failed_calls_carry_their_error_text() -> None:
    @function_tool
    def broken() -> int:
        """Fails."""
        raise RuntimeError("no")

    seen: list[FunctionToolResult] = []

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutput:
        seen.extend(results)
        return ToolsToFinalOutput(is_final_output=True, final_output="stopped")

    agent = Agent(
        name="a",
        model=ScriptedModel([ToolCall("broken")]),
        tools=[broken],
        tool_use_behavior=decide,
    )
    result = await Runner.run(agent, "go")
    assert seen[0].is_error and "RuntimeError: no" in seen[0].output
    assert result.final_output == "stopped"


@pytest.mark.parametrize("how", HOW)
async def test_values_json_cannot_type_again_end_as_their_json_form(how: str) -> None:
    """Documented: without a declared return type a model comes back as its JSON
    data, and a value JSON cannot express as its str, in every kind of run."""
    for tool, expected in (
        (untyped, {"city": "Rome", "celsius": 1.0, "day": "2026-01-01"}),
        (opaque, "<opaque>"),
    ):
        model = ScriptedModel([ToolCall(tool.name, {"city": "Rome"} if tool is untyped else {})])
        agent = Agent(name="a", model=model, tools=[tool], tool_use_behavior="stop_on_first_tool")
        result = await run(agent, how)
        assert result.final_output == expected


async def test_the_agents_output_type_types_a_tools_value() -> None:
    model = ScriptedModel([ToolCall("totals", {"n": 2})])

    class Totals(BaseModel):
        n: int
        double: int

    agent = Agent(
        name="a",
        model=model,
        tools=[totals],
        output_type=Totals,
        tool_use_behavior="stop_on_first_tool",
    )
    result = await Runner.run(agent, "go")
    assert result.final_output == Totals(n=2, double=4)


async def test_values_of_calls_before_a_pause_are_rebuilt_from_their_json() -> None:
    seen: list[Any] = []

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutput:
        seen.extend(r.output for r in results)
        return ToolsToFinalOutput(is_final_output=True, final_output=results[0].output)

    def agent(model: ScriptedModel) -> Agent[Any]:
        return Agent(name="a", model=model, tools=[weather, book], tool_use_behavior=decide)

    first = ScriptedModel(
        [[ToolCall("weather", {"city": "Oslo"}), ToolCall("book", {"city": "Oslo"})]]
    )
    paused = await Runner.run(agent(first), "go")
    state = RunState.from_dict(paused.state.to_dict())
    state.approve(state.interruptions[0])
    result = await Runner.run(agent(ScriptedModel([])), state)
    assert seen == [Weather(city="Oslo", celsius=21.5, day=dt.date(2026, 5, 1)), "booked Oslo"]
    assert isinstance(result.final_output, Weather)
