"""Pattern: a shared workspace (a blackboard).

A team of agents reads and writes notes keyed by topic, through three tools
(``write_note``, ``read_note``, ``list_notes``); each note records which agent
wrote it. The notes live in the project database under the workspace id, so a
later step, another process or a resumed run that opens the same id sees them.

The agents use the offline model (no key needed), so the requests below name
the topic and content in quotes for it to pick up; a real model needs no such
help.

    uv run python examples/pattern_workspace.py
"""

import asyncio

from ascent import Agent, Runner
from ascent.patterns import Workspace

WORKSPACE_ID = "trip-2026-05"  # e.g. the id of the job the team works on


async def first_session() -> None:
    workspace = Workspace(WORKSPACE_ID)
    await workspace.clear()  # start this example afresh
    researcher = workspace.attach(Agent(name="Researcher", instructions="Record what you find."))
    await Runner.run(researcher, 'Write a note on "flights": "AZ 101 at 9:05, 120 EUR"')
    await Runner.run(researcher, 'Write a note on "hotel": "Hotel Forum, 340 EUR"')
    budget = workspace.attach(Agent(name="Accountant", instructions="Keep the budget."))
    await Runner.run(budget, 'Write a note on "budget": "460 EUR so far"')


async def later_session() -> None:
    # A new Workspace object, as a later run or another process would open it.
    workspace = Workspace(WORKSPACE_ID)
    writer = workspace.attach(Agent(name="Writer", instructions="Draft the itinerary."))
    result = await Runner.run(writer, "List the notes of the team")
    print(result.final_output)
    note = await workspace.read("budget")
    print(f"budget note by {note.author}: {note.content}")


if __name__ == "__main__":
    asyncio.run(first_session())
    asyncio.run(later_session())
