"""The agents the service tests serve (importable by replica processes too)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from ascent import Agent, function_tool

# A test holds a run mid-tool by opening a gate for the item it asks about (same process only).
GATES: dict[str, asyncio.Event] = {}
ARRIVED: dict[str, asyncio.Event] = {}  # set when the tool reaches an item's gate


@function_tool
def order_status(order_id: str) -> str:
    """Look up where an order is, by its id (such as A-1042)."""
    return f"order {order_id} shipped Monday"


@function_tool(needs_approval=True)
def refund(order_id: str) -> str:
    """Refund an order by its id; a person approves each refund."""
    return f"refunded {order_id}"


@function_tool
async def inventory(item: str) -> str:
    """Count the inventory of an item in the warehouse."""
    gate = GATES.get(item)
    if gate is not None:
        ARRIVED.setdefault(item, asyncio.Event()).set()
        await asyncio.wait_for(gate.wait(), timeout=20)
    gates = os.environ.get("SERVED_GATES")  # across processes: a file named after the item
    if gates and item.startswith("gated-"):
        async with asyncio.timeout(20):
            while not (Path(gates) / item).exists():
                await asyncio.sleep(0.01)
    return f"{item}: 7 in stock"


def create_agents() -> list[Agent[None]]:
    return [
        Agent(
            name="Shop",
            instructions="You help customers of an online shop.",
            tools=[order_status, refund],
            model="offline",
        ),
        Agent(name="Echo", handoff_description="Repeats the request.", model="offline"),
        Agent(
            name="Warehouse",
            instructions="You count stock.",
            tools=[inventory],
            model="offline",
        ),
    ]


def create_app() -> Any:
    """What a replica process serves (``ascent serve tests/server/served_agents.py:create_app``)."""
    from ascent.server import create_app as make

    app = make(
        create_agents(),
        database_url=os.environ["ASCENT_DATABASE_URL"],
        sse_ping_interval=0.5,
    )
    poll = os.environ.get("SERVED_POLL_INTERVAL")  # how often waits look at the database
    if poll:
        app.state.ascent.engine.poll_interval = float(poll)
    return app
