"""Pattern: evaluator-optimizer.

A generator drafts, an evaluator judges against clear criteria, and the
generator revises with all the feedback so far, until the evaluator accepts
or ``max_rounds`` drafts were made. Every round is kept.

Offline, scripted models play both parts so the loop is visible; with
OPENAI_API_KEY (or OPENAI_BASE_URL) set, the real model does.

    uv run python examples/pattern_evaluator.py
"""

import asyncio
from typing import Any

from ascent import Agent
from ascent.models import default_model_name
from ascent.patterns import Evaluation, refine
from ascent.testing import ScriptedModel


def model(*script: Any) -> ScriptedModel | None:
    """A scripted stand-in when no real model is configured; else None (the default model)."""
    return ScriptedModel(list(script)) if default_model_name() == "offline" else None


writer = Agent(
    name="Copywriter",
    instructions="Write a product tagline. Revise it following every piece of feedback.",
    model=model(
        "Our shoes are good shoes for running in.",
        "Run further in shoes that feel like nothing.",
        "Run further. Feel nothing but the road.",
    ),
)
critic = Agent(
    name="Critic",
    instructions=(
        "Accept a tagline only if it is under ten words, concrete, and free of repetition. "
        "Otherwise say precisely what to change."
    ),
    model=model(
        Evaluation(verdict="revise", feedback="Repetitive ('shoes' twice) and vague."),
        Evaluation(verdict="revise", feedback="Better; 'feel like nothing' is a cliche."),
        Evaluation(verdict="accept", feedback=""),
    ),
)


async def main() -> None:
    result = await refine(writer, critic, "A tagline for our trail shoes", max_rounds=4)
    for r in result.rounds:
        verdict = "accepted" if r.accepted else f"revise: {r.feedback}"
        print(f"round {r.number}: {r.draft!r} -> {verdict}")
    print(f"accepted: {result.accepted}, after {len(result.rounds)} rounds")


if __name__ == "__main__":
    asyncio.run(main())
