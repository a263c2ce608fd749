"""The agents of the service tests on Temporal, for the service and for a worker process
(``ascent worker ... tests.temporal.served_app:agents``). Their model is ``offline``.

They are the service tests' Shop agent (its order lookup and approved refunds), so
both engines serve the same agent."""

from __future__ import annotations

from ascent import Agent

from ..server import served_agents


def create_agents() -> list[Agent[None]]:
    return [agent for agent in served_agents.create_agents() if agent.name == "Shop"]


agents = create_agents()
