"""Agents and tools that the tests serve over MCP (also loaded by ``ascent mcp``)."""

from __future__ import annotations

from pydantic import BaseModel

from ascent import Agent, function_tool


@function_tool
def order_status(order_id: str) -> str:
    """Look up where an order is, by its id (such as A-1042)."""
    return {"A-1042": "shipped Monday"}.get(order_id, "no such order")


@function_tool
def multiply(a: int, b: int) -> int:
    """Multiply two whole numbers."""
    return a * b


class Verdict(BaseModel):
    approved: bool
    reason: str


support = Agent(
    name="Support",
    handoff_description="Answers questions about orders.",
    instructions="Look orders up before answering.",
    model="offline",
    tools=[order_status],
)
