"""Human approval: a tool call that waits for a person's yes or no.

A tool with ``needs_approval=True`` (or a function deciding per call) pauses
the run before it executes: ``result.interruptions`` lists the calls waiting.
``result.state`` is plain JSON, so the decision can come minutes or days later,
in another process. Approve or reject each call, then run again with the state.

    uv run python examples/human_approval.py
"""

import asyncio

from ascent import Agent, Runner, RunState, function_tool


@function_tool(needs_approval=lambda ctx, args: args["amount"] > 50)
def refund(order_id: str, amount: float) -> str:
    """Refund an order (refunds over 50 EUR need a manager's approval)."""
    return f"refunded {amount:g} EUR on {order_id}"


agent = Agent(name="Billing", instructions="Issue refunds when asked.", tools=[refund])


async def main() -> None:
    result = await Runner.run(agent, "Refund order A-1042: 80 EUR")
    for request in result.interruptions:
        print(f"waiting for approval: {request.tool_name} {request.arguments}")

    saved = result.state.to_json()  # store it anywhere: a database row, a queue message
    print(f"saved state: {len(saved)} bytes of JSON")

    # ... later, when the manager has decided:
    state = RunState.from_json(saved)
    decision = "approve"  # a real application asks a person here
    for request in state.interruptions:
        if decision == "approve":
            state.approve(request)
        else:
            state.reject(request, reason="refunds need a receipt")
    resumed = await Runner.run(agent, state)
    print(resumed.final_output)

    # A small refund needs no approval at all.
    small = await Runner.run(agent, "Refund order A-1077: 20 EUR")
    print(f"{small.final_output} (interrupted: {small.is_interrupted})")


if __name__ == "__main__":
    asyncio.run(main())
