"""Handoffs: an agent passes the conversation to a specialist.

Each agent in ``handoffs`` becomes a ``transfer_to_<name>`` tool; when the
model calls it, the specialist takes over the conversation (and the run's
final answer). ``handoff_description`` tells the triage agent what each
specialist is for.

    uv run python examples/handoffs.py
"""

from ascent import Agent, Runner

billing = Agent(
    name="Billing",
    handoff_description="Billing: invoices, payments and refunds.",
    instructions="You handle invoices, payments and refunds.",
)
technical = Agent(
    name="Technical",
    handoff_description="Technical support: the app, logins and error messages.",
    instructions="You solve problems with the app.",
)
triage = Agent(
    name="Triage",
    instructions="Find out what the customer needs and hand off to the right specialist.",
    handoffs=[billing, technical],
)


def main() -> None:
    for message in ("I was charged twice on my invoice.", "The app shows an error at login."):
        result = Runner.run_sync(triage, message)
        moves = [item for item in result.new_items if item.type == "function_call"]
        print(f"{message!r}: Triage -> {result.last_agent.name} (via {moves[0].name})")


if __name__ == "__main__":
    main()
