"""Agents as tools: one agent calls others like functions and keeps control.

``agent.as_tool()`` wraps an agent as a tool: the caller's model sends it a
request, the inner agent runs (a nested run, in the same trace and stream) and
its final output comes back as the tool's result. Unlike a handoff, the
calling agent stays in charge and writes the final answer.

    uv run python examples/agents_as_tools.py
"""

from ascent import Agent, Runner

translator = Agent(
    name="Translator",
    instructions="Translate the text you are given into French. Answer with the translation only.",
)
summarizer = Agent(
    name="Summarizer",
    instructions="Summarize the text you are given in one sentence.",
)

coordinator = Agent(
    name="Coordinator",
    instructions="Use your tools to fulfil the request, then answer with their result.",
    tools=[
        translator.as_tool(description="Translate text into French."),
        summarizer.as_tool(description="Summarize a long text in one sentence."),
    ],
)


def main() -> None:
    result = Runner.run_sync(coordinator, 'Translate into French: "Good morning, friends"')
    for item in result.new_items:
        if item.type == "function_call":
            print(f"{result.last_agent.name} asked {item.name}: {item.arguments}")
        elif item.type == "function_call_output":
            print(f"it answered: {item.output}")
    print(f"final ({result.last_agent.name}): {result.final_output}")


if __name__ == "__main__":
    main()
