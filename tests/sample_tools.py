"""Function tools that several test modules share.

``lookup`` answers ``"<order_id>: shipped"``, ``get_order`` ``"order <order_id>:
shipped"``; ``refund`` needs approval and
answers ``"refunded <order_id>"`` once approved; ``add`` adds two numbers;
``stalling_settle`` makes a ``settle`` tool whose first call never returns.
"""

from __future__ import annotations

import asyncio

from ascent import FunctionTool, function_tool


@function_tool
def lookup(order_id: str) -> str:
    """Look an order up by its id."""
    return f"{order_id}: shipped"


@function_tool
def get_order(order_id: str) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped"


@function_tool(needs_approval=True)
def refund(order_id: str) -> str:
    """Refund an order."""
    return f"refunded {order_id}"


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def stalling_settle() -> tuple[FunctionTool, asyncio.Event, list[str]]:
    """A ``settle`` tool whose first call stalls (the replica is stopped meanwhile),
    the event set when it is entered, and the invoices it was called with."""
    entered = asyncio.Event()
    calls: list[str] = []

    @function_tool
    async def settle(invoice: str) -> str:
        """Settle an invoice."""
        calls.append(invoice)
        if len(calls) == 1:
            entered.set()
            await asyncio.Event().wait()
        return f"{invoice} settled"

    return settle, entered, calls
