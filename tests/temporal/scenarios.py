"""One table of runs, each carried out by the in-process Runner and by Temporal.

Every call of a scenario's factory makes fresh agents (with fresh scripted
models), so each engine runs the same script from its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from ascent import Agent, FunctionCallOutput, function_tool
from ascent.durable import durable_sleep
from ascent.models.base import ModelRequest
from ascent.testing.scripted import ScriptedModel, ToolCall


class Order(BaseModel):
    order_id: str
    status: str


@function_tool
def order_status(order_id: str) -> str:
    """Where an order is, by its id."""
    return f"{order_id}: shipped Monday"


@function_tool
def carrier(order_id: str) -> str:
    """Who carries an order."""
    return f"{order_id}: Parcel Co"


@function_tool(needs_approval=True)
def refund(order_id: str) -> str:
    """Refund an order (a person approves it first)."""
    return f"{order_id}: refunded"


@dataclass(frozen=True)
class Scenario:
    name: str
    agents: Callable[[], list[Agent]]
    start: str
    input: str


def _tools() -> list[Agent]:
    model = ScriptedModel(
        [
            [
                ToolCall("order_status", {"order_id": "A-1"}),
                ToolCall("carrier", {"order_id": "A-1"}),
            ],
            ToolCall("order_status", {"order_id": "B-2"}),
            "A-1 ships Monday with Parcel Co; B-2 too.",
        ]
    )
    return [
        Agent(
            name="Support",
            instructions="Look orders up.",
            model=model,
            tools=[order_status, carrier],
        )
    ]


def _handoff_structured() -> list[Agent]:
    billing = Agent(
        name="Billing",
        instructions="Answer with the order's status.",
        model=ScriptedModel(
            [
                ToolCall("order_status", {"order_id": "A-1"}),
                "not json",  # invalid structured output: the loop asks again
                '{"order_id": "A-1", "status": "shipped Monday"}',
            ]
        ),
        tools=[order_status],
        output_type=Order,
    )
    triage = Agent(
        name="Triage",
        instructions="Send billing questions to Billing.",
        model=ScriptedModel([ToolCall("transfer_to_billing", {})]),
        handoffs=[billing],
    )
    return [triage, billing]


def _unknown_tool() -> list[Agent]:
    model = ScriptedModel([ToolCall("no_such_tool", {}), "Sorry, I cannot."])
    return [Agent(name="Support", instructions="Help.", model=model, tools=[order_status])]


SCENARIOS = [
    Scenario("tools", _tools, "Support", "Where are A-1 and B-2?"),
    Scenario("handoff_structured", _handoff_structured, "Triage", "Where is my order A-1?"),
    Scenario("unknown_tool_answered", _unknown_tool, "Support", "Do something odd."),
]


def _refund_step(request: ModelRequest) -> str | ToolCall:
    """Decided by what the model is sent, so a restarted worker answers alike."""
    outputs = [i for i in request.input if isinstance(i, FunctionCallOutput)]
    if not outputs:
        return ToolCall("refund", {"order_id": "A-1"})
    return f"Done: {outputs[-1].output}"


def approval_agents() -> list[Agent]:
    model = ScriptedModel([_refund_step] * 4)
    return [Agent(name="Refunds", instructions="Refund orders.", model=model, tools=[refund])]


SLEEPS: list[str] = []  # what wait_for_delivery did, across the workers of one process
THREE_DAYS = 3 * 24 * 3600


@function_tool
async def wait_for_delivery(order_id: str) -> str:
    """Wait, durably, the three days an order takes to arrive."""
    SLEEPS.append("began")
    await durable_sleep(THREE_DAYS)
    SLEEPS.append("woke")
    return f"{order_id}: delivered"


def _delivery_step(request: ModelRequest) -> str | ToolCall:
    """Decided by what the model is sent, so a restarted worker answers alike."""
    outputs = [i for i in request.input if isinstance(i, FunctionCallOutput)]
    if not outputs:
        return ToolCall("wait_for_delivery", {"order_id": "A-1"})
    return f"Arrived: {outputs[-1].output}"


def sleep_agents() -> list[Agent]:
    model = ScriptedModel([_delivery_step] * 4)
    return [
        Agent(
            name="Orders",
            instructions="Tell when orders arrive.",
            model=model,
            tools=[wait_for_delivery],
        )
    ]
