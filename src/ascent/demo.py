"""The bundled demo: a small customer-support team for the fictional shop "Northwind Outfitters".

A triage agent routes each customer to a billing specialist (orders, refunds)
or a technical specialist (the app, logins, tickets). The tools use typed
arguments (a ``Literal`` refund reason, an ``Enum`` severity, a Pydantic
ticket), and the refund tool waits for a human's approval. An input guardrail
turns away requests that are not about the shop, and the team remembers the
customer: each conversation ends with a note in long-term memory
(:class:`~ascent.memory.MemoryStore`), which the next conversation recalls.

It runs on any model. With the ``offline`` model (no key, no network) the
scripted turns below are worded so that its word-overlap tool choice makes the
sensible moves; with a real model the same agents simply behave better.

``ascent demo`` plays :data:`SCRIPT`; ``ascent chat ascent.demo:triage`` lets you
talk to the team yourself. :func:`create_team` builds a fresh team with its own
shop data, so runs never see each other's refunds or tickets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from .agent import Agent
from .context import RunContext
from .guardrails import GuardrailOutput, InputGuardrail, input_guardrail
from .items import FunctionCall, FunctionCallOutput, Item, Message
from .memory import MemoryStore, memory_tools, with_memory
from .tools import FunctionTool, function_tool

__all__ = [
    "CUSTOMER",
    "SCRIPT",
    "Customer",
    "Order",
    "RefundReason",
    "Severity",
    "Shop",
    "TicketRequest",
    "conversation_note",
    "create_team",
    "on_topic",
    "remember_conversation",
    "triage",
]


@dataclass(frozen=True, kw_only=True)
class Customer:
    """Who is talking to the team; ``id`` scopes their memories."""

    id: str
    name: str


CUSTOMER = Customer(id="customer-ana", name="Ana")
"""The customer of ``ascent demo`` (and of ``ascent chat ascent.demo:triage``)."""

SCRIPT: tuple[str, ...] = (
    "Hi, this is Ana. Can you recall my earlier conversations with you?",
    "Where is my order A-1042? It still hasn't arrived.",
    "It came today, but the shoes are damaged. What does the refund policy say for order A-1042?",
    "Good. Then please refund order A-1042, the shoes are damaged.",
    "While I have you: can you write me a poem about the sea?",
    "One more thing, and it is urgent: the app shows error E-502 when I log in. "
    "Please open a ticket.",
)
"""The customer's turns in ``ascent demo``: a greeting that asks what the team remembers, a
delivery question, the refund policy, a refund, an off-topic request, an app problem."""

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


# ------------------------------------------------------------------ guardrail

# What Northwind's support handles; a word starting with one of these is on topic.
_TOPICS = re.compile(
    r"\b(?:order|deliver|arriv|ship|parcel|package|track|refund|return|money|pay|charg|"
    r"invoice|bill|price|receipt|shoe|jacket|item|size|exchange|damag|broken|missing|late|"
    r"app|log\s?in|password|account|error|crash|bug|ticket|recall|remember|earlier|"
    r"conversation)\w*",
    re.IGNORECASE,
)
_ID = re.compile(r"\b[A-Za-z]+-\d+\b")  # A-1042, E-502
_SMALL_TALK_WORDS = 4  # "hi there", "thanks a lot": short courtesies pass

OFF_TOPIC_REPLY = (
    "Northwind support helps with orders, deliveries, refunds and the Northwind app; "
    "that request is outside what this team can do."
)


@input_guardrail
def on_topic(context: RunContext[Any], agent: Agent[Any], items: list[Item]) -> GuardrailOutput:
    """Trip on requests that are not about the shop, before a model spends tokens on them.

    A keyword check: cheap, deterministic and the same on every model. For
    subtler policies use a classifier agent: ``InputGuardrail.from_agent``.
    """
    latest = next(
        (
            item.text
            for item in reversed(items)
            if isinstance(item, Message) and item.role == "user"
        ),
        "",
    )
    words = re.findall(r"[\w'-]+", latest)
    relevant = bool(_TOPICS.search(latest) or _ID.search(latest))
    tripped = not relevant and len(words) > _SMALL_TALK_WORDS
    return GuardrailOutput(
        tripwire_triggered=tripped, output_info=OFF_TOPIC_REPLY if tripped else None
    )


# ------------------------------------------------------------------- memory

_MEMORY_TOOLS = frozenset({"remember", "recall", "forget"})


def conversation_note(
    items: Sequence[Item], *, customer: Customer = CUSTOMER, day: date | None = None
) -> str | None:
    """One line on what the team did in a conversation, from its tool calls and results.

    Written by code, not by a model, so the note is the same on every model and
    never invents anything; None when no tool did anything worth remembering.
    """
    calls = {item.call_id: item for item in items if isinstance(item, FunctionCall)}
    done: list[str] = []
    for item in items:
        if not isinstance(item, FunctionCallOutput) or item.handoff_to:
            continue
        call = calls.get(item.call_id)
        name = item.tool_name or (call.name if call else "")
        if not name or name.startswith("transfer_to_") or name in _MEMORY_TOOLS:
            continue
        done.append(_what_happened(name, _arguments(call), item))
    if not done:
        return None
    when = (day or date.today()).isoformat()
    return f"Earlier conversation with {customer.name} ({when}): {'; '.join(done)}."


def _arguments(call: FunctionCall | None) -> dict[str, Any]:
    try:
        parsed = json.loads(call.arguments) if call else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _what_happened(name: str, arguments: dict[str, Any], result: FunctionCallOutput) -> str:
    output = " ".join(result.output.split()).rstrip(".")
    order_id = str(arguments.get("order_id", "?"))
    if result.is_error:
        if name == "refund_order" and "rejected" in output:
            return f"refund of {order_id} declined"
        return f"{name} failed ({output[:120]})"
    if name == "lookup_order":
        try:
            order = Order.model_validate_json(result.output)
        except ValidationError:
            return f"looked up order {order_id}"
        return f"order {order.order_id} ({order.item}) was {order.status.replace('_', ' ')}"
    if name == "check_refund_policy":
        return f"refund policy: {output.removeprefix(f'{order_id}: ')}"
    if name in ("refund_order", "open_ticket"):
        return output[:1].lower() + output[1:200]  # "Refunded ..." reads as a clause
    return f"{name}: {output[:200]}"


async def remember_conversation(
    store: MemoryStore, items: Sequence[Item], *, customer: Customer = CUSTOMER
) -> str | None:
    """Save :func:`conversation_note` in ``customer``'s memory; the note, or None if none."""
    note = conversation_note(items, customer=customer)
    if note is not None:
        await store.add(note, scope=customer.id, tags=["conversation"])
    return note


# --------------------------------------------------------------------- team


def create_team(
    shop: Shop | None = None,
    *,
    model: Any = None,
    memory: MemoryStore | None = None,
    customer: Customer = CUSTOMER,
    guardrails: Sequence[InputGuardrail] = (on_topic,),
) -> Agent[Any]:
    """A fresh support team; returns the triage agent, where every conversation starts.

    ``model`` (a name or a :class:`~ascent.models.Model`) applies to every agent;
    by default they use the configured default model (``offline`` without a key).
    ``memory`` (the project database by default) holds what the team remembers
    of ``customer``: every agent's instructions recall the notes relevant to the
    latest message, and triage can search them with the ``recall`` tool.
    ``guardrails`` check the input of whichever agent starts a turn.
    """
    tools = _tools(shop or Shop.sample())
    store = memory if memory is not None else MemoryStore()

    def scope(context: RunContext[Any]) -> str:
        return customer.id  # the team serves one customer; a service would read the context

    recall = next(tool for tool in memory_tools(store, scope_from=scope) if tool.name == "recall")

    def instructions(text: str) -> Any:
        return with_memory(f"{text} The customer is {customer.name}.", store, scope_from=scope)

    billing: Agent[Any] = Agent(
        name="Billing",
        handoff_description="Orders, deliveries, payments and refunds.",
        instructions=instructions(
            "You are the billing specialist of Northwind Outfitters. Look orders up before "
            "answering, check the refund policy before refunding, and keep answers short. "
            "Refunds need a person's approval; if one is declined, say so plainly. "
            "Hand app and login problems to the technical specialist."
        ),
        model=model,
        tools=[tools["lookup_order"], tools["check_refund_policy"], tools["refund_order"]],
        input_guardrails=list(guardrails),
    )
    technical: Agent[Any] = Agent(
        name="Technical",
        handoff_description="App errors, login problems and crashes; opens support tickets.",
        instructions=instructions(
            "You are the technical specialist of Northwind Outfitters. For app or login "
            "problems, open a ticket with the error code and a fitting severity, then tell "
            "the customer the ticket number. Hand order and refund questions to billing."
        ),
        model=model,
        tools=[tools["open_ticket"]],
        input_guardrails=list(guardrails),
    )
    billing.handoffs.append(technical)
    technical.handoffs.append(billing)
    return Agent(
        name="Triage",
        instructions=instructions(
            "You are the front desk of Northwind Outfitters' customer support. Greet the "
            "customer; when they ask about earlier conversations, recall them. Do not solve "
            "problems yourself: hand order, delivery and refund questions to Billing, and app "
            "or login problems to Technical."
        ),
        model=model,
        tools=[recall],
        handoffs=[billing, technical],
        input_guardrails=list(guardrails),
    )


triage: Agent[Any] = create_team()
"""A ready team for ``ascent chat ascent.demo:triage`` and ``ascent run``."""
