"""Structured output: the final answer as a typed object.

Set ``output_type`` (a Pydantic model, a dataclass, a TypedDict, a list, a
Literal...) and the model is asked for JSON matching its schema; the run
validates it (asking the model to repair invalid output, up to a bound) and
``result.final_output`` is an instance of the type.

    uv run python examples/structured_output.py
"""

from typing import Literal

from pydantic import BaseModel, Field

from ascent import Agent, Runner


class Ticket(BaseModel):
    """A support ticket extracted from a customer's message."""

    order_id: str = Field(description="The order the message is about, such as A-1042.")
    category: Literal["delivery", "refund", "damaged", "other"]
    quantity: int = Field(ge=1, description="How many items are concerned.")
    summary: str = Field(description="The problem in a few words.")


agent = Agent(
    name="Extractor",
    instructions="Extract a support ticket from the customer's message.",
    output_type=Ticket,
)


def main() -> None:
    message = 'Order A-1042: 2 mugs arrived damaged. "Broken handles" on both.'
    result = Runner.run_sync(agent, message)
    ticket = result.final_output_as(Ticket)  # checked to be a Ticket
    print(repr(ticket))
    print(f"order {ticket.order_id}, {ticket.quantity} item(s), category {ticket.category}")


if __name__ == "__main__":
    main()
