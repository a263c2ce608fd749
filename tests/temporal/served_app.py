"""The agents of the service tests on Temporal, for the service and for a worker process
(``ascent worker ... tests.temporal.served_app:agents``). Their model is ``offline``."""

from __future__ import annotations

from ascent import Agent, function_tool


@function_tool
def order_status(order_id: str) -> str:
    """Look up where an order is, by its id (such as A-1042)."""
    return f"order {order_id} shipped Monday"


@function_tool(needs_approval=True)
def refund(order_id: str) -> str:
    """Refund an order by its id; a person approves each refund."""
    return f"refunded {order_id}"


def create_agents() -> list[Agent[None]]:
    return [
        Agent(
            name="Shop",
            instructions="You help customers of an online shop.",
            tools=[order_status, refund],
            model="offline",
        )
    ]


agents = create_agents()
