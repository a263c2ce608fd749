"""Sessions: a conversation that carries over between runs.

A session stores the items of a conversation. Pass it to ``Runner.run`` and
the history is loaded before the run and the new items saved after each turn,
so you send only the new message. ``open_session(id)`` keeps sessions in the
project database (a SQLite file under .ascent/); ``postgresql://``,
``redis://`` or ``memory://`` URLs put them elsewhere.

    uv run python examples/sessions.py
"""

import asyncio

from ascent import Agent, Runner
from ascent.memory import open_session


async def main() -> None:
    agent = Agent(name="Assistant", instructions="Be brief.")
    session = open_session("customer-42")  # the same id later = the same conversation
    await session.clear()  # start this example afresh

    for message in ("Hi, I'm Ada.", "I ordered a green mug.", "What did I order?"):
        result = await Runner.run(agent, message, session=session)
        # result.input is everything the model saw: the history plus the new message
        print(f"{message!r}: the model saw {len(result.input)} item(s)")

    # Another process (or a later run) opening the same session sees it all:
    history = await open_session("customer-42").get_items()
    print(f"{len(history)} items stored; the first: {history[0].text!r}")


if __name__ == "__main__":
    asyncio.run(main())
