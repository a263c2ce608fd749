"""A tool's value as a durable run's final output: recorded as JSON data, not as JSON text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ascent import Agent, function_tool
from ascent.durable import DurableEngine
from ascent.testing import ScriptedModel, ToolCall


class Forecast(BaseModel):
    city: str
    celsius: float


@function_tool
def forecast(city: str) -> Forecast:
    """The forecast for a city."""
    return Forecast(city=city, celsius=21.5)


async def test_stop_on_first_tool_records_the_tools_value(make_engine: Callable[..., Any]) -> None:
    agent = Agent(name="weather", tools=[forecast], tool_use_behavior="stop_on_first_tool")
    model = ScriptedModel([ToolCall("forecast", {"city": "Rome"})])
    engine: DurableEngine = await make_engine(agents=[agent], model=model)
    record = await engine.wait_run((await engine.start_run("weather", "Rome?")).id, timeout=30)
    assert record.status == "completed"
    assert record.output == {"city": "Rome", "celsius": 21.5}  # data, not '{"city": ...}'
