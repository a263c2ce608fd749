"""The agent card: what an A2A peer learns about an agent before talking to it.

Skills come from the agent's tools and handoffs, so the card says what the
agent can actually do; an agent with neither gets one skill, itself.
"""

from __future__ import annotations

from typing import Any

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_CURRENT, TransportProtocol

from .._private.naming import slugify
from .._version import __version__
from ..agent import Agent, AgentTool
from ..tools import HostedTool

__all__ = ["BEARER_SCHEME", "build_agent_card"]

BEARER_SCHEME = "bearer"
_INPUT_MODES = ["text/plain", "application/json", "application/octet-stream", "image/*"]


def build_agent_card(
    agent: Agent[Any],
    *,
    url: str,
    description: str | None = None,
    version: str | None = None,
    bearer_auth: bool = False,
    streaming: bool = True,
    a2a_v03_compat: bool = False,
) -> AgentCard:
    """The card of ``agent`` served at ``url`` (its JSON-RPC endpoint).

    ``bearer_auth`` declares the bearer-token security scheme the server enforces.
    ``a2a_v03_compat`` declares the endpoint for protocol 0.3 too; the SDK then
    writes the 0.3 fields (``url``, ``preferredTransport``, ``protocolVersion``)
    at the top of the served card, which the 1.0 card schema does not allow.
    """
    protocols = [PROTOCOL_VERSION_CURRENT]
    if a2a_v03_compat:
        protocols.append(PROTOCOL_VERSION_0_3)
    card = AgentCard(
        name=agent.name,
        description=description or _describe(agent),
        version=version or __version__,
        supported_interfaces=[
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.JSONRPC.value, protocol_version=protocol
            )
            for protocol in protocols
        ],
        capabilities=AgentCapabilities(streaming=streaming, push_notifications=False),
        default_input_modes=_INPUT_MODES,
        default_output_modes=["text/plain", "application/json"],
        skills=_skills(agent),
    )
    if bearer_auth:
        card.security_schemes[BEARER_SCHEME].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer", description="Authorization: Bearer <token>"
                )
            )
        )
        card.security_requirements.append(
            SecurityRequirement(schemes={BEARER_SCHEME: StringList(list=[])})
        )
    return card


def _describe(agent: Agent[Any]) -> str:
    if agent.handoff_description:
        return agent.handoff_description
    if isinstance(agent.instructions, str) and agent.instructions.strip():
        return agent.instructions.strip()
    return f"The {agent.name} agent."


def _skills(agent: Agent[Any]) -> list[AgentSkill]:
    skills: list[AgentSkill] = []
    for tool in agent.tools:
        if isinstance(tool, HostedTool):
            skills.append(
                AgentSkill(id=tool.kind, name=tool.kind, description=tool.kind, tags=["hosted"])
            )
            continue
        tag = "agent" if isinstance(tool, AgentTool) else "tool"
        description = tool.description or f"The {tool.name} tool."
        skills.append(AgentSkill(id=tool.name, name=tool.name, description=description, tags=[tag]))
    for handoff in agent.get_handoffs():
        skills.append(
            AgentSkill(
                id=handoff.tool_name,
                name=handoff.agent.name,
                description=handoff.tool_description,
                tags=["handoff"],
            )
        )
    if not skills:
        skills.append(
            AgentSkill(
                id=slugify(agent.name),
                name=agent.name,
                description=_describe(agent),
                tags=["agent"],
            )
        )
    return skills
