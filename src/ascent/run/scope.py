"""What the interpreter's parts share: the run they serve, its events, hooks and spans.

The in-process interpreter is composed of parts, one job each: model calls
(:mod:`.model_calls`), tool calls (:mod:`.tool_calls`) and guardrail checks
(:mod:`.guardrail_checks`). Each part holds the one :class:`RunScope` of its
run rather than inheriting it, so a part's inputs are explicit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..agent import Agent
from ..context import RunContext
from ..items import FunctionCall, FunctionCallOutput, Item
from ..lifecycle import RunHooks
from ..memory.session import Session
from ..tracing import Span, SpanKind, Trace, get_trace_provider
from .config import RunConfig
from .events import ItemEvent, StreamEvent
from .graph import AgentGraph, AgentNode
from .state import RunState
from .tracing import agent_span_attributes

__all__ = ["Emit", "NestedRun", "RunScope", "cancel_and_wait"]

Emit = Callable[[StreamEvent], None]


class NestedRun(Protocol):
    """Runs an agent inside a run (an agent used as a tool, a classifier guardrail)."""

    def __call__(
        self,
        agent: Agent[Any],
        request: str | list[Item],
        *,
        max_turns: int | None,
        context: Any,
        config: RunConfig,
        emit: Emit | None,
        parent_call_id: str | None,
        session: Session | None = None,
    ) -> Awaitable[Any]: ...


class RunScope:
    """One run's execution: its graph and state, and the events, hooks and spans
    every part of the interpreter reports to."""

    def __init__(
        self,
        *,
        graph: AgentGraph,
        state: RunState,
        context: RunContext[Any],
        config: RunConfig,
        hooks: RunHooks[Any] | None,
        emit: Emit | None,
        parent_call_id: str | None = None,
        trace: Trace | None = None,
        parent_span: Span | None = None,
    ) -> None:
        self.graph = graph
        self.state = state
        self.context = context
        self.config = config
        self.hooks = hooks
        self.emit = emit
        self.parent_call_id = parent_call_id
        self.trace = trace
        self.tracer = trace.provider if trace is not None else get_trace_provider()
        self.parent_span = parent_span
        self.sensitive = config.trace_include_sensitive_data
        self.agent_span: Span | None = None

    def nested_config(self) -> RunConfig:
        """The config of a run inside this one that brings none of its own: this
        run's, but its run-wide guardrails stay with this run (a classifier
        guardrail would otherwise check itself, without end)."""
        config = self.config
        if config.input_guardrails or config.output_guardrails:
            config = dataclasses.replace(config, input_guardrails=[], output_guardrails=[])
        return config

    @property
    def streaming(self) -> bool:
        """Whether anyone listens to this run's events (building them costs otherwise)."""
        return self.emit is not None

    def send(self, event: StreamEvent) -> None:
        if self.emit is not None:
            if self.parent_call_id is not None:
                event.parent_call_id = self.parent_call_id
            self.emit(event)

    def has_hooks(self, agent: Agent[Any]) -> bool:
        """Whether the run or ``agent`` has hooks: work done only for them (a hook's
        arguments, the call itself) is skipped otherwise."""
        return self.hooks is not None or agent.hooks is not None

    async def hook(
        self,
        name: str,
        agent: Agent[Any],
        *args: Any,
        agent_hook: str = "",
        context: RunContext[Any] | None = None,
    ) -> None:
        """Call the run's hook ``name`` and the agent's own (``agent_hook``, else ``name``),
        with the run's context unless given another view of it."""
        context = context or self.context
        if self.hooks is not None:
            await getattr(self.hooks, name)(context, agent, *args)
        if agent.hooks is not None:
            await getattr(agent.hooks, agent_hook or name)(context, agent, *args)

    @staticmethod
    def tool_output(
        call: FunctionCall, agent: Agent[Any], text: str, *, error: bool
    ) -> FunctionCallOutput:
        return FunctionCallOutput(
            call_id=call.call_id, output=text, agent=agent.name, tool_name=call.name, is_error=error
        )

    def send_tool_output(self, agent: Agent[Any], output: FunctionCallOutput) -> None:
        if self.emit is not None:
            self.send(ItemEvent(agent=agent.name, name="tool_output", item=output))

    # ----------------------------------------------------------------- tracing

    def child_span(
        self, kind: SpanKind, name: str, attributes: dict[str, Any], parent: Span | None = None
    ) -> Span | None:
        """A started span under ``parent`` or the current agent's span (None when not
        tracing). Tool and guardrail spans become current, so spans of nested runs
        and custom spans inside a tool nest under them."""
        if self.trace is None:
            return None
        parent = parent or self.agent_span or self.parent_span
        span = self.tracer.span(kind, name, trace=self.trace, parent=parent, attributes=attributes)
        return span.start(make_current=kind in ("tool", "guardrail"))

    def start_agent_span(self, node: AgentNode) -> None:
        self.end_agent_span()
        if self.trace is not None:
            self.agent_span = self.tracer.span(
                "agent",
                node.agent.name,
                trace=self.trace,
                parent=self.parent_span,
                attributes=agent_span_attributes(node),
            ).start(make_current=False)

    def end_agent_span(self, error: BaseException | None = None) -> None:
        if self.agent_span is not None:
            self.agent_span.finish(error)
            self.agent_span = None


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it has really stopped (whatever it raised)."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
