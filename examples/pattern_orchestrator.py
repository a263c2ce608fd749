"""Pattern: orchestrator-workers.

A planner splits the task into subtasks (structured output, a ``Plan``),
workers do them at the same time, and a synthesizer combines the results.
Unlike sectioning, the parts are decided by the model, at run time.

Offline, a scripted model plays the planner and the synthesizer, and the
workers use the offline model with a lookup tool; with OPENAI_API_KEY (or
OPENAI_BASE_URL) set, the real model plays every part.

    uv run python examples/pattern_orchestrator.py
"""

import asyncio
from typing import Any

from ascent import Agent, function_tool
from ascent.models import default_model_name
from ascent.patterns import Plan, Subtask, orchestrate
from ascent.testing import ScriptedModel

FACTS = {
    "flights": "AZ 101 leaves Paris at 9:05 and lands in Rome at 11:10 (120 EUR).",
    "hotels": "Hotel Forum: 2 nights, 340 EUR, a view of the Forum.",
    "weather": "Rome next weekend: sunny, 24 °C.",
}


def model(*script: Any) -> ScriptedModel | None:
    """A scripted stand-in when no real model is configured; else None (the default model)."""
    return ScriptedModel(list(script)) if default_model_name() == "offline" else None


@function_tool
def lookup(topic: str) -> str:
    """Look up travel facts on a topic: flights, hotels or weather."""
    return FACTS.get(topic.lower(), "nothing known")


planner = Agent(
    name="Planner",
    instructions="Split the travel request into independent research subtasks.",
    model=model(
        Plan(
            subtasks=[
                Subtask(title="Flights", instructions='Look up "flights" from Paris to Rome.'),
                Subtask(title="Hotel", instructions='Look up "hotels" near the Forum.'),
                Subtask(title="Weather", instructions='Look up the "weather" in Rome.'),
            ]
        )
    ),
)
researcher = Agent(
    name="Researcher", instructions="Research your subtask with the lookup tool.", tools=[lookup]
)
editor = Agent(
    name="Editor",
    instructions="Write the itinerary from the research results.",
    model=model("Fly AZ 101 at 9:05, stay 2 nights at Hotel Forum, pack for 24 °C sun."),
)


async def main() -> None:
    result = await orchestrate(
        planner, researcher, editor, "Plan a weekend in Rome from Paris", max_concurrency=3
    )
    print(f"plan: {[subtask.title for subtask in result.plan.subtasks]}")
    for item in result.work:
        found = [i.output for i in item.run.new_items if i.type == "function_call_output"]
        print(f"  {item.subtask.title} ({item.worker}): {found[0] if found else item.output}")
    print(f"itinerary: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
