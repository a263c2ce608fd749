"""Dynamic instructions: instructions computed for each run.

``instructions`` may be a function of ``(run_context, agent)``, sync or async.
It runs before every model call, so it can use the run's context (here the
customer's name and plan) or anything else that changes between runs.

    uv run python examples/dynamic_instructions.py
"""

import asyncio
from dataclasses import dataclass

from ascent import Agent, RunContext, Runner


@dataclass
class Customer:
    name: str
    plan: str


def instructions(ctx: RunContext[Customer], agent: Agent[Customer]) -> str:
    customer = ctx.context
    tone = "Be concise and technical." if customer.plan == "pro" else "Explain simply."
    return f"You are {agent.name}. The customer is {customer.name} ({customer.plan} plan). {tone}"


agent = Agent[Customer](name="Helper", instructions=instructions)


async def main() -> None:
    for customer in (Customer("Ada", "pro"), Customer("Grace", "free")):
        # What the model will be told for this customer:
        print(await agent.get_instructions(RunContext(context=customer)))
        result = await Runner.run(agent, "How do I export my data?", context=customer)
        print(f"  -> {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
