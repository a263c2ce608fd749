"""Long-term memory: facts about a user that outlive any one conversation.

A ``MemoryStore`` keeps memories per scope (a user or tenant id) in the
project database, searched by keywords (and by meaning, with an embedder).
Agents use it through tools (``remember``, ``recall``, ``forget``) and through
``with_memory``, which adds the memories relevant to each new message to the
instructions. The scope always comes from your context, never from the
model, so one user's memories cannot leak into another's conversation.

    uv run python examples/long_term_memory.py
"""

import asyncio
import json

from ascent import Agent, RunContext, Runner, RunResult
from ascent.memory import MemoryStore, memory_tools, recall_for_instructions, with_memory

store = MemoryStore()  # the project database


def user_id(ctx: RunContext[dict]) -> str:
    return ctx.context["user_id"]


agent = Agent(
    name="Concierge",
    instructions=with_memory("You are a travel concierge.", store, scope_from=user_id),
    tools=memory_tools(store, scope_from=user_id),
)


def called(result: RunResult) -> list[str]:
    return [item.name for item in result.new_items if item.type == "function_call"]


async def main() -> None:
    await store.clear(scope="ada")
    await store.clear(scope="ben")

    # Monday: Ada mentions a preference; the agent saves it with the remember tool.
    monday = await Runner.run(
        agent, 'Please remember this: "Ada is vegetarian"', context={"user_id": "ada"}
    )
    print(f"Monday: the agent called {called(monday)}")
    print(f"stored for ada: {[m.text for m in await store.search('vegetarian', scope='ada')]}")

    # Friday, a new conversation: the agent looks it up with the recall tool.
    friday = await Runner.run(
        agent, 'What do you recall about "vegetarian" food?', context={"user_id": "ada"}
    )
    [found] = [item.output for item in friday.new_items if item.type == "function_call_output"]
    print(f"Friday: the agent called {called(friday)}: {[m['text'] for m in json.loads(found)]}")

    # with_memory puts the same memories into the instructions automatically:
    print(await recall_for_instructions(store, scope="ada", query="vegetarian dinner"))

    # Ben has his own scope and sees none of Ada's memories.
    print("Ben's memories:", await store.search("vegetarian", scope="ben"))


if __name__ == "__main__":
    asyncio.run(main())
