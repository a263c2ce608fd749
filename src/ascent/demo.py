"""The bundled demo: a small customer-support team for the fictional shop "Northwind Outfitters".

A triage agent routes each customer to a billing specialist (orders, refunds)
or a technical specialist (the app, logins, tickets). The tools use typed
arguments (a ``Literal`` refund reason, an ``Enum`` severity, a Pydantic
ticket), and the refund tool waits for a human's approval.

It runs on any model. With the ``offline`` model (no key, no network) the
scripted turns below are worded so that its word-overlap tool choice makes the
sensible moves; with a real model the same agents simply behave better.

``ascent demo`` plays :data:`SCRIPT`; ``ascent chat ascent.demo:triage`` lets you
talk to the team yourself. :func:`create_team` builds a fresh team with its own
shop data, so runs never see each other's refunds or tickets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from .agent import Agent
from .tools import FunctionTool, function_tool

__all__ = [
    "SCRIPT",
    "Order",
    "RefundReason",
    "Severity",
    "Shop",
    "TicketRequest",
    "create_team",
    "triage",
]

SCRIPT: tuple[str, ...] = (
    "Hi! Where is my order A-1042? It still hasn't arrived.",
    "It finally came, but the shoes arrived damaged. Can I get a refund for order A-1042?",
    "One more thing, and it is urgent: the app shows error E-502 when I log in. "
    "Please open a ticket.",
)
"""The customer's turns in ``ascent demo``: a delivery question, a refund, an app problem."""

RefundReason = Literal["damaged", "late", "wrong_item", "changed_mind"]


class Severity(StrEnum):
    """How badly a technical problem hurts the customer."""

    normal = "normal"
    high = "high"
    urgent = "urgent"


class Order(BaseModel):
    """One order as the shop's records hold it."""

    order_id: str
    item: str
    total: float = Field(description="What the customer paid, in euros.")
    status: Literal["processing", "in_transit", "delivered", "refunded"]
    days_since_delivery: int | None = None


class TicketRequest(BaseModel):
    """What the technical team needs to pick up a problem."""

    summary: str = Field(description="The problem in the customer's words.")
    error_code: str | None = Field(description="The error code shown, if any, such as E-502.")
    severity: Severity = Severity.normal


@dataclass
class Shop:
    """The shop's records: orders, refunds issued and tickets opened, for one team."""

    orders: dict[str, Order] = field(default_factory=dict)
    refunds: list[str] = field(default_factory=list)
    tickets: list[TicketRequest] = field(default_factory=list)

    @classmethod
    def sample(cls) -> Shop:
        orders = [
            Order(order_id="A-1042", item="trail running shoes", total=89.90, status="in_transit"),
            Order(
                order_id="A-1001",
                item="rain jacket",
                total=129.00,
                status="delivered",
                days_since_delivery=41,
            ),
        ]
        return cls(orders={order.order_id: order for order in orders})

    def find(self, order_id: str) -> Order:
        order = self.orders.get(order_id.strip().upper())
        if order is None:
            known = ", ".join(sorted(self.orders))
            raise ValueError(f"no order {order_id!r}; order ids look like {known}")
        return order


REFUND_WINDOW_DAYS = 30


def _tools(shop: Shop) -> dict[str, FunctionTool]:
    """The shop's tools, bound to one :class:`Shop`."""

    @function_tool
    def lookup_order(order_id: str) -> Order:
        """Look up an order by its id (like A-1042): the item, its price and where it is.

        Args:
            order_id: The order id, such as A-1042.
        """
        return shop.find(order_id)

    @function_tool
    def check_refund_policy(order_id: str, reason: RefundReason) -> str:
        """Check whether the policy allows refunding this order, before promising anything.

        Args:
            order_id: The order id, such as A-1042.
            reason: Why the customer wants their money back.
        """
        order = shop.find(order_id)
        if order.status == "refunded":
            return f"{order.order_id} was already refunded."
        if reason == "damaged":
            return f"{order.order_id}: damaged goods are always refunded in full."
        days = order.days_since_delivery
        if days is not None and days > REFUND_WINDOW_DAYS:
            return f"{order.order_id}: outside the {REFUND_WINDOW_DAYS}-day window ({days} days)."
        return f"{order.order_id}: eligible for a refund."

    @function_tool(needs_approval=True)
    def refund_order(order_id: str, reason: RefundReason) -> str:
        """Refund an order in full. A person must approve every refund.

        Args:
            order_id: The order id, such as A-1042.
            reason: Why the customer wants their money back.
        """
        order = shop.find(order_id)
        if order.status == "refunded":
            return f"{order.order_id} was already refunded; nothing to do."
        shop.orders[order.order_id] = order.model_copy(update={"status": "refunded"})
        shop.refunds.append(order.order_id)
        return f"Refunded {order.total:.2f} EUR for {order.order_id} ({reason})."

    @function_tool
    def open_ticket(ticket: TicketRequest) -> str:
        """Open a support ticket for the technical team about an app or login problem.

        Args:
            ticket: What went wrong, the error code and how urgent it is.
        """
        shop.tickets.append(ticket)
        number = f"T-{1000 + len(shop.tickets)}"
        code = f" (error {ticket.error_code})" if ticket.error_code else ""
        return f"Opened ticket {number}{code} with {ticket.severity.value} severity."

    return {
        tool.name: tool for tool in (lookup_order, check_refund_policy, refund_order, open_ticket)
    }


def create_team(shop: Shop | None = None, *, model: Any = None) -> Agent[Any]:
    """A fresh support team; returns the triage agent, where every conversation starts.

    ``model`` (a name or a :class:`~ascent.models.Model`) applies to every agent;
    by default they use the configured default model (``offline`` without a key).
    """
    tools = _tools(shop or Shop.sample())
    billing: Agent[Any] = Agent(
        name="Billing",
        handoff_description="Orders, deliveries, payments and refunds.",
        instructions=(
            "You are the billing specialist of Northwind Outfitters. Look orders up before "
            "answering, check the refund policy before refunding, and keep answers short. "
            "Refunds need a person's approval; if one is declined, say so plainly. "
            "Hand app and login problems to the technical specialist."
        ),
        model=model,
        tools=[tools["lookup_order"], tools["check_refund_policy"], tools["refund_order"]],
    )
    technical: Agent[Any] = Agent(
        name="Technical",
        handoff_description="App errors, login problems and crashes; opens support tickets.",
        instructions=(
            "You are the technical specialist of Northwind Outfitters. For app or login "
            "problems, open a ticket with the error code and a fitting severity, then tell "
            "the customer the ticket number. Hand order and refund questions to billing."
        ),
        model=model,
        tools=[tools["open_ticket"]],
    )
    billing.handoffs.append(technical)
    technical.handoffs.append(billing)
    return Agent(
        name="Triage",
        instructions=(
            "You are the front desk of Northwind Outfitters' customer support. Do not solve "
            "problems yourself: hand order, delivery and refund questions to Billing, and app "
            "or login problems to Technical."
        ),
        model=model,
        handoffs=[billing, technical],
    )


triage: Agent[Any] = create_team()
"""A ready team for ``ascent chat ascent.demo:triage`` and ``ascent run``."""
