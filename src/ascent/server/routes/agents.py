"""``GET /v1/agents``: what the service runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...agent import Agent, OutputType
from ...tools import HostedTool
from .._errors import error_responses
from .._state import State, Tenant
from ..schemas import AgentInfo, AgentList, ToolInfo

__all__ = ["describe_agent", "router"]

router = APIRouter(tags=["agents"], responses=error_responses(401))


@router.get("/v1/agents", response_model=AgentList, summary="List the agents")
async def list_agents(state: State, _tenant: Tenant) -> AgentList:
    """The agents this service runs: names, descriptions, tools and handoffs."""
    return AgentList(agents=[describe_agent(agent) for agent in state.agents.values()])


def describe_agent(agent: Agent[Any]) -> AgentInfo:
    tools = [
        ToolInfo(
            name=tool.name, description=None if isinstance(tool, HostedTool) else tool.description
        )
        for tool in agent.tools
    ]
    output = agent.output_type
    if isinstance(output, OutputType):
        output = output.type
    description = agent.handoff_description
    if description is None and isinstance(agent.instructions, str):
        description = agent.instructions.strip() or None
    return AgentInfo(
        name=agent.name,
        description=description,
        tools=tools,
        handoffs=[handoff.agent.name for handoff in agent.get_handoffs()],
        output_type=getattr(output, "__name__", str(output)) if output is not None else None,
    )
