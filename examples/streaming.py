"""Streaming: see the answer and the tool calls as they happen.

``Runner.run_streamed`` returns at once; iterate ``stream_events()`` for text
deltas, complete items (tool calls, tool outputs, handoffs) and agent changes.
The streamed run produces the same items and result as a plain one.

    uv run python examples/streaming.py
"""

import asyncio

from ascent import Agent, Runner, function_tool


@function_tool
def count_words(text: str) -> int:
    """Count the words in a piece of text."""
    return len(text.split())


async def main() -> None:
    agent = Agent(name="Editor", instructions="Help with writing.", tools=[count_words])
    result = Runner.run_streamed(agent, 'How many words are in "the quick brown fox"?')
    async for event in result.stream_events():
        if event.type == "text_delta":
            print(event.delta, end="", flush=True)  # tokens, as they arrive
        elif event.type == "item" and event.name == "tool_call":
            print(f"[{event.agent} calls {event.item.name} with {event.item.arguments}]")
        elif event.type == "item" and event.name == "tool_output":
            print(f"[tool returned {event.item.output}]")
    print()
    # After the loop the result is complete, like a plain run's.
    print(f"done: {result.usage.requests} model calls")


if __name__ == "__main__":
    asyncio.run(main())
