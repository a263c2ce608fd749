"""Context: your application's state, reachable from tools, never sent to the model.

Pass any object as ``context=``; tools (and dynamic instructions, hooks,
guardrails) that take a ``RunContext`` / ``ToolContext`` first parameter get
it. The model only sees the tools' arguments and results, so the user's id and
the database handle stay in your process.

    uv run python examples/context.py
"""

from dataclasses import dataclass, field

from ascent import Agent, Runner, ToolContext, function_tool


@dataclass
class AppState:
    """What the tools need: who is asking, and the shop's data."""

    user_id: str
    orders: dict[str, list[str]] = field(default_factory=dict)
    audit: list[str] = field(default_factory=list)


@function_tool
def my_orders(ctx: ToolContext[AppState]) -> str:
    """List the orders of the current customer."""
    state = ctx.context
    state.audit.append(f"{ctx.tool_name} for {state.user_id} (call {ctx.call_id})")
    return ", ".join(state.orders.get(state.user_id, [])) or "no orders"


agent = Agent[AppState](
    name="Support", instructions="Help the customer with their orders.", tools=[my_orders]
)


def main() -> None:
    state = AppState(user_id="u-7", orders={"u-7": ["A-1042", "A-1077"], "u-9": ["B-1"]})
    result = Runner.run_sync(agent, "Which orders do I have?", context=state)
    print(result.final_output)
    print(f"audit: {state.audit[0].split(' (')[0]}")
    # The model was never told the user's id:
    print("user id sent to the model:", "u-7" in str(result.to_input_list()))


if __name__ == "__main__":
    main()
