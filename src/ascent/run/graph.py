"""The agents a run can reach, looked up by name.

Run state refers to agents by name (it must serialize), so the loop and the
interpreter resolve names here. Built once per run from the starting agent by
following handoffs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._private.output import OutputSchema, output_schema_for
from ..agent import Agent
from ..errors import UserError
from ..guardrails import InputGuardrail, OutputGuardrail
from ..handoffs import Handoff
from ..tools import FunctionTool, HostedTool

__all__ = ["AgentGraph", "AgentNode"]


@dataclass(slots=True)
class AgentNode:
    """One agent and the lookups the loop needs for it."""

    agent: Agent[Any]
    function_tools: dict[str, FunctionTool]
    hosted_tools: list[HostedTool]
    handoffs: dict[str, Handoff]
    output: OutputSchema | None
    input_guardrails: list[InputGuardrail]
    output_guardrails: list[OutputGuardrail]
    # whether any tool or handoff may be left out of a model call (``is_enabled``):
    # known once, not asked on every call
    has_conditional_tools: bool = False

    @classmethod
    def build(
        cls,
        agent: Agent[Any],
        run_input_guardrails: Sequence[InputGuardrail] = (),
        run_output_guardrails: Sequence[OutputGuardrail] = (),
    ) -> AgentNode:
        function_tools: dict[str, FunctionTool] = {}
        hosted: list[HostedTool] = []
        for tool in agent.tools:
            if isinstance(tool, HostedTool):
                hosted.append(tool)
            elif tool.name in function_tools:
                raise UserError(f"agent {agent.name!r} has two tools named {tool.name!r}")
            else:
                function_tools[tool.name] = tool
        handoffs: dict[str, Handoff] = {}
        for item in agent.get_handoffs():
            if item.tool_name in function_tools or item.tool_name in handoffs:
                raise UserError(
                    f"agent {agent.name!r}: handoff tool name {item.tool_name!r} is already used"
                )
            handoffs[item.tool_name] = item
        output = None
        if agent.output_type is not None and agent.output_type is not str:
            output = output_schema_for(agent.output_type)
        return cls(
            agent,
            function_tools,
            hosted,
            handoffs,
            output,
            [*agent.input_guardrails, *run_input_guardrails],
            [*agent.output_guardrails, *run_output_guardrails],
            _any_conditional(function_tools.values(), handoffs.values()),
        )

    def final_output(self, data: Any, *, tool: str | None = None) -> Any:
        """The run's final output, typed, from the JSON data its state keeps.

        Through the agent's ``output_type`` when it has one; else, when a tool's
        value ended the run (``tool_use_behavior``), through that tool's declared
        return type; else the data as it is.
        """
        if self.output is not None:
            return self.output.load(data)
        source = self.function_tools.get(tool) if tool is not None else None
        return data if source is None else source.output_from_data(data)

    def tool_names(self) -> list[str]:
        return [*self.function_tools, *self.handoffs]

    def add_function_tools(self, tools: Sequence[FunctionTool], *, source: str) -> None:
        """Add tools listed at run time (an MCP server's); names must stay unique."""
        for tool in tools:
            if tool.name in self.function_tools or tool.name in self.handoffs:
                raise UserError(
                    f"agent {self.agent.name!r}: tool {tool.name!r} of {source} has the name "
                    "of another tool; filter it out or give the server a tool_prefix"
                )
            self.function_tools[tool.name] = tool
        self.has_conditional_tools = _any_conditional(
            self.function_tools.values(), self.handoffs.values()
        )


def _any_conditional(tools: Iterable[FunctionTool], handoffs: Iterable[Handoff]) -> bool:
    return any(t.is_enabled is not True for t in tools) or any(
        h.is_enabled is not True for h in handoffs
    )


class AgentGraph:
    """Every agent reachable from the starting agent through handoffs."""

    def __init__(
        self,
        start: Agent[Any],
        *,
        input_guardrails: Sequence[InputGuardrail] = (),
        output_guardrails: Sequence[OutputGuardrail] = (),
    ) -> None:
        self.start = start
        self.nodes: dict[str, AgentNode] = {}
        queue = [start]
        while queue:
            agent = queue.pop()
            known = self.nodes.get(agent.name)
            if known is not None:
                if known.agent is not agent:
                    raise UserError(
                        f"two different agents are named {agent.name!r}; "
                        "agent names must be unique within a run"
                    )
                continue
            node = AgentNode.build(agent, input_guardrails, output_guardrails)
            self.nodes[agent.name] = node
            queue.extend(h.agent for h in node.handoffs.values())

    def __getitem__(self, name: str) -> AgentNode:
        node = self.nodes.get(name)
        if node is None:
            raise UserError(
                f"agent {name!r} is not reachable from {self.start.name!r}; "
                "resume a run with the same starting agent it began with"
            )
        return node
