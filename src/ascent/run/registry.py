"""Agents by name: what a durable engine, the service and the protocols serve.

Runs that are stored or sent name their agent by a string, so whatever starts
them looks the agent up here: one map, one check of the names, one error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..agent import Agent
from ..errors import AgentNotFound, UserError

__all__ = ["AgentRegistry", "Agents"]

Agents = Mapping[str, Agent[Any]] | Sequence[Agent[Any]] | Agent[Any]
"""One agent, a list of agents (named by their names), or a map of names to agents."""


class AgentRegistry(Mapping[str, Agent[Any]]):
    """A read-only map of names to agents; :meth:`get_agent` raises
    :class:`AgentNotFound` for a name it does not know."""

    def __init__(self, agents: Agents) -> None:
        if isinstance(agents, AgentRegistry):
            self._agents: dict[str, Agent[Any]] = dict(agents._agents)
            return
        if isinstance(agents, Agent):
            agents = [agents]
        if isinstance(agents, Mapping):
            by_name = dict(agents)
        else:
            by_name = {}
            for agent in agents:
                if not isinstance(agent, Agent):
                    raise UserError(f"expected agents, got a {type(agent).__name__}")
                if agent.name in by_name:
                    raise UserError(f"two agents are named {agent.name!r}")
                by_name[agent.name] = agent
        for name, agent in by_name.items():
            if not isinstance(agent, Agent):
                raise UserError(f"agents[{name!r}] is not an Agent but {type(agent).__name__}")
        self._agents = by_name

    def get_agent(self, name: str) -> Agent[Any]:
        agent = self._agents.get(name)
        if agent is None:
            known = ", ".join(sorted(self._agents)) or "none"
            raise AgentNotFound(f"no agent named {name!r} (agents: {known})")
        return agent

    def __getitem__(self, name: str) -> Agent[Any]:
        return self._agents[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)

    def __repr__(self) -> str:
        return f"AgentRegistry({', '.join(self._agents)})"
