"""Hello, agent: the smallest Ascent program.

An agent is a name, instructions and (optionally) a model. ``Runner.run_sync``
runs the agent loop until the model gives a final answer.

Without a key this uses the offline model, which only restates what it is
told; set OPENAI_API_KEY (or OPENAI_BASE_URL) and the same code asks a real model.

    uv run python examples/hello_agent.py
"""

from ascent import Agent, Runner

agent = Agent(
    name="Greeter",
    instructions="Greet the user warmly, in one sentence.",
)


def main() -> None:
    result = Runner.run_sync(agent, "Hello! I am Ada.")
    print(result.final_output)  # offline: "You said: Hello! I am Ada."

    # Every result says what it cost and which agent answered.
    print(f"{result.usage.requests} model call, answered by {result.last_agent.name}")


if __name__ == "__main__":
    main()
