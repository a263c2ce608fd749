"""Function tools: Python functions the model can call.

``@function_tool`` reads the signature, type hints and docstring: the model
gets a JSON schema, and its arguments are validated with Pydantic before the
function runs (invalid ones go back to the model as an error to correct).
Sync functions run in a worker thread; async ones are awaited.

    uv run python examples/function_tools.py
"""

from typing import Literal

from pydantic import BaseModel, Field

from ascent import Agent, Runner, function_tool


@function_tool
def convert_temperature(value: float, unit: Literal["celsius", "fahrenheit"]) -> str:
    """Convert a temperature to the other unit.

    Args:
        value: The temperature to convert.
        unit: The unit the value is in.
    """
    if unit == "celsius":
        return f"{value:g} °C is {value * 9 / 5 + 32:g} °F"
    return f"{value:g} °F is {(value - 32) * 5 / 9:.1f} °C"


class Reminder(BaseModel):
    """A reminder to set."""

    text: str = Field(description="What to be reminded of.")
    minutes: int = Field(ge=1, le=1440, description="In how many minutes.")


@function_tool
async def set_reminder(reminder: Reminder) -> str:
    """Set a reminder for later."""
    return f"reminder set in {reminder.minutes} min: {reminder.text}"


agent = Agent(
    name="Assistant",
    instructions="Use the tools when they help.",
    tools=[convert_temperature, set_reminder],
)


def main() -> None:
    # The schema the model sees for the first tool:
    print(convert_temperature.parameters["properties"]["unit"])

    for question in ("Convert 20 celsius please", 'Set a reminder in 15 minutes: "call Bob"'):
        result = Runner.run_sync(agent, question)
        calls = [item for item in result.new_items if item.type == "function_call"]
        print(f"{question!r} -> {calls[0].name}{calls[0].arguments}")
        print(f"  {result.final_output}")


if __name__ == "__main__":
    main()
