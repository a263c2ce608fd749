"""Pattern: routing.

A router classifies each request with structured output (a route that must
be one of the names given, and its reason); the chosen specialist then
answers the original request.

Offline, a scripted model plays the router (so its choices read sensibly) and
the offline model plays the specialists; with OPENAI_API_KEY (or
OPENAI_BASE_URL) set, the real model does both.

    uv run python examples/pattern_routing.py
"""

import asyncio
import json

from ascent import Agent
from ascent.models import default_model_name
from ascent.patterns import route
from ascent.testing import ScriptedModel

MESSAGES = [
    "I was charged twice for order A-1042.",
    "The app crashes when I open my basket.",
    "Do you ship to Canada?",
]
DECISIONS = [
    {"reason": "a double charge is a billing matter", "route": "billing"},
    {"reason": "an app crash is a technical problem", "route": "technical"},
    {"reason": "shipping questions are general", "route": "general"},
]

router = Agent(
    name="Router",
    instructions="Decide who should handle the customer's message.",
    model=ScriptedModel([json.dumps(d) for d in DECISIONS])
    if default_model_name() == "offline"
    else None,
)
specialists = {
    "billing": Agent(name="Billing", handoff_description="Charges, invoices and refunds."),
    "technical": Agent(name="Technical", handoff_description="The app, logins, errors."),
    "general": Agent(name="General", handoff_description="Shipping, opening hours, anything else."),
}


async def main() -> None:
    for message in MESSAGES:
        result = await route(router, specialists, message)
        print(f"{message!r}")
        answerer = result.run.last_agent.name
        print(f"  -> {result.route} ({result.decision.reason}); {answerer} answers")


if __name__ == "__main__":
    asyncio.run(main())
