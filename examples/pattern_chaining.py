"""Pattern: prompt chaining, with a gate.

Agents in sequence, each working on the previous output: an outliner, a
writer, an editor. A gate after the outline checks it in code; when the check
fails, the chain stops there and says why, instead of writing from a bad plan.

Offline, scripted models stand in for the agents so the path is readable; with
OPENAI_API_KEY (or OPENAI_BASE_URL) set, the configured real model is used.

    uv run python examples/pattern_chaining.py
"""

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from ascent import Agent
from ascent.models import default_model_name
from ascent.patterns import Gate, Link, chain
from ascent.testing import ScriptedModel


def model(*script: Any) -> ScriptedModel | None:
    """A scripted stand-in when no real model is configured; else None (the default model)."""
    return ScriptedModel(list(script)) if default_model_name() == "offline" else None


class Outline(BaseModel):
    title: str
    points: list[str] = Field(description="Three to five points, in order.")


outliner = Agent(
    name="Outliner",
    instructions="Outline a short blog post on the topic.",
    output_type=Outline,
    model=model(
        Outline(title="Your first running shoes", points=["cushioning", "fit", "price"]),
        Outline(title="Shoes", points=["buy some"]),
    ),
)
writer = Agent(
    name="Writer",
    instructions="Write the post from the outline, one paragraph per point.",
    model=model("Cushioning protects... Fit matters... Price: spend wisely..."),
)
editor = Agent(
    name="Editor",
    instructions="Tighten the post; keep its structure.",
    model=model("Cushioning protects your knees. Fit beats fashion. Spend on what you feel."),
)
enough_points = Gate(
    check=lambda outline: len(outline.points) >= 3,
    reason=lambda outline: f"the outline has {len(outline.points)} point(s), 3 are needed",
)
steps = [Link(agent=outliner, gate=enough_points), writer, editor]


async def main() -> None:
    for topic in ("Running shoes for beginners", "Shoes"):
        result = await chain(steps, topic)
        print(f"topic {topic!r}: {' -> '.join(step.agent for step in result.steps)}")
        if result.completed:
            print(f"  final: {result.final_output}")
        else:
            print(f"  stopped after {result.stopped.agent}: {result.stopped.reason}")


if __name__ == "__main__":
    asyncio.run(main())
