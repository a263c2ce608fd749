"""Lifecycle hooks: code that runs at the edges of a run, for logging, metrics or side work.

Subclass :class:`RunHooks` (every agent of a run) or :class:`AgentHooks` (one
agent) and override what you need; the defaults do nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

from .context import RunContext, TContext

if TYPE_CHECKING:
    from .agent import Agent
    from .items import FunctionCall, FunctionCallOutput, Item
    from .models.base import ModelResponse

__all__ = ["AgentHooks", "RunHooks"]


class RunHooks(Generic[TContext]):
    """Called for every agent of a run."""

    async def on_agent_start(self, context: RunContext[TContext], agent: Agent[TContext]) -> None:
        """An agent takes over: at the start of the run, and after each handoff."""

    async def on_agent_end(
        self, context: RunContext[TContext], agent: Agent[TContext], output: Any
    ) -> None:
        """An agent produced the run's final output (typed: an instance of its ``output_type``)."""

    async def on_handoff(
        self, context: RunContext[TContext], from_agent: Agent[TContext], to_agent: Agent[TContext]
    ) -> None:
        """Control passes from one agent to another."""

    async def on_llm_start(
        self,
        context: RunContext[TContext],
        agent: Agent[TContext],
        instructions: str | None,
        input: list[Item],
    ) -> None:
        """A model call is about to be made."""

    async def on_llm_end(
        self, context: RunContext[TContext], agent: Agent[TContext], response: ModelResponse
    ) -> None:
        """A model call returned; ``context.usage`` counts it already."""

    async def on_tool_start(
        self, context: RunContext[TContext], agent: Agent[TContext], call: FunctionCall
    ) -> None:
        """A tool call is about to run."""

    async def on_tool_end(
        self,
        context: RunContext[TContext],
        agent: Agent[TContext],
        call: FunctionCall,
        output: FunctionCallOutput,
    ) -> None:
        """A tool call finished (``output.is_error`` says whether it failed)."""


class AgentHooks(Generic[TContext]):
    """Called for one agent only; set as ``Agent(hooks=...)``."""

    async def on_start(self, context: RunContext[TContext], agent: Agent[TContext]) -> None:
        """This agent takes over."""

    async def on_end(
        self, context: RunContext[TContext], agent: Agent[TContext], output: Any
    ) -> None:
        """This agent produced the final output (typed: an instance of its ``output_type``)."""

    async def on_handoff(
        self, context: RunContext[TContext], agent: Agent[TContext], source: Agent[TContext]
    ) -> None:
        """Control was handed to this agent from ``source``."""

    async def on_llm_start(
        self,
        context: RunContext[TContext],
        agent: Agent[TContext],
        instructions: str | None,
        input: list[Item],
    ) -> None:
        """This agent is about to call its model."""

    async def on_llm_end(
        self, context: RunContext[TContext], agent: Agent[TContext], response: ModelResponse
    ) -> None:
        """This agent's model call returned; ``context.usage`` counts it already."""

    async def on_tool_start(
        self, context: RunContext[TContext], agent: Agent[TContext], call: FunctionCall
    ) -> None:
        """One of this agent's tools is about to run."""

    async def on_tool_end(
        self,
        context: RunContext[TContext],
        agent: Agent[TContext],
        call: FunctionCall,
        output: FunctionCallOutput,
    ) -> None:
        """One of this agent's tools finished."""
