"""Pattern: parallelization, by sectioning and by voting.

- Sectioning: three reviewers look at the same change at the same time, each
  for one concern; ``max_concurrency`` bounds how many run at once.
- Voting: the same check runs three times and the majority wins.
A failing branch is reported with its name (``BranchError``); here one
reviewer's model is down, and ``fail_fast=False`` lets the others finish.

Offline, the reviewers use the offline model and scripted models stand in for
the voters and the failing reviewer; with OPENAI_API_KEY (or OPENAI_BASE_URL)
set, the real model does the reviews and the votes.

    uv run python examples/pattern_parallel.py
"""

import asyncio
import textwrap
from typing import Any

from pydantic import BaseModel

from ascent import Agent, ModelAPIError, function_tool
from ascent.models import default_model_name
from ascent.patterns import parallel, vote
from ascent.testing import ScriptedModel

CHANGE = 'def login(user, password): return db.query(f"SELECT * FROM users WHERE name={user}")'


def model(*script: Any) -> ScriptedModel | None:
    """A scripted stand-in when no real model is configured; else None (the default model)."""
    return ScriptedModel(list(script)) if default_model_name() == "offline" else None


@function_tool
def find_sql_injection(code: str) -> str:
    """Check code for SQL injection: queries built from strings."""
    if "SELECT" in code and "{" in code:
        return "SQL built from a formatted string: use query parameters"
    return "none found"


reviewers = {
    "security": Agent(
        name="Security reviewer",
        instructions="Review the code for security problems; check for SQL injection.",
        tools=[find_sql_injection],
    ),
    "style": Agent(name="Style reviewer", instructions="Review the code's naming and layout."),
    "tests": Agent(
        name="Test reviewer",
        instructions="Say which tests the change needs.",
        model=ScriptedModel([ModelAPIError("service unavailable", status_code=503)]),
    ),
}


class Verdict(BaseModel):
    safe_to_merge: bool


checker = Agent(
    name="Merge checker",
    instructions="Is this change safe to merge?",
    output_type=Verdict,
    model=model(
        Verdict(safe_to_merge=False), Verdict(safe_to_merge=True), Verdict(safe_to_merge=False)
    ),
)


async def main() -> None:
    review = await parallel(
        reviewers, f"Review security: {CHANGE}", max_concurrency=2, fail_fast=False
    )
    for name, output in review.outputs.items():
        print(f"{name}: {textwrap.shorten(output, width=100, placeholder=' ...')}")
    for name, error in review.failures.items():
        print(f"{name} failed: {error.error}")

    votes = await vote(checker, f"Is this safe to merge? {CHANGE}", voters=3)
    print(f"safe to merge: {votes.winner.safe_to_merge} ({votes.agreement:.0%} agreement)")


if __name__ == "__main__":
    asyncio.run(main())
