"""Function tools that several test modules share.

``lookup`` answers ``"<order_id>: shipped"``, ``get_order`` ``"order <order_id>:
shipped"``; ``refund`` needs approval and
answers ``"refunded <order_id>"`` once approved; ``add`` adds two numbers.
"""

from __future__ import annotations

from ascent import function_tool


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
