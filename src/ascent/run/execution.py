"""What the interpreter's parts share: the run they serve, events, hooks, spans.

The in-process interpreter is split by job: :mod:`.interpreter` drives the loop
and calls models, :mod:`.tool_calls` runs tools, :mod:`.guardrail_checks` runs
guardrails. Each part is a class over this base.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from ..agent import Agent
from ..context import RunContext
from ..items import FunctionCall, FunctionCallOutput
from ..lifecycle import RunHooks
from ..models.base import ModelResponse
from ..tracing import Span, SpanKind, Trace
from ..tracing.spans import TraceProviderLike
from .commands import CallModel
from .config import RunConfig
from .events import ItemEvent, StreamEvent
from .graph import AgentGraph, AgentNode
from .state import RunState
from .tracing import agent_span_attributes

__all__ = ["Emit", "ExecutionBase", "NestedRun", "cancel_and_wait"]

Emit = Callable[[StreamEvent], None]
# Runs an agent inside a run (an agent tool, a classifier guardrail); the Runner provides it.
NestedRun = Callable[..., Any]


class ExecutionBase:
    """State of one run's execution, and the helpers every part uses."""

    graph: AgentGraph
    state: RunState
    context: RunContext[Any]
    config: RunConfig
    hooks: RunHooks[Any] | None
    emit: Emit | None
    nested_run: NestedRun
    parent_call_id: str | None
    trace: Trace | None
    tracer: TraceProviderLike
    parent_span: Span | None
    sensitive: bool
    _agent_span: Span | None

    async def call_model(self, command: CallModel) -> ModelResponse:
        raise NotImplementedError  # abstract

    # ----------------------------------------------------------------- helpers

    def _send(self, event: StreamEvent) -> None:
        if self.emit is not None:
            if self.parent_call_id is not None:
                event.parent_call_id = self.parent_call_id
            self.emit(event)

    async def _hook(self, name: str, agent: Agent[Any], *args: Any, agent_hook: str = "") -> None:
        if self.hooks is not None:
            await getattr(self.hooks, name)(self.context, agent, *args)
        if agent.hooks is not None:
            await getattr(agent.hooks, agent_hook or name)(self.context, agent, *args)

    @staticmethod
    def _output(
        call: FunctionCall, agent: Agent[Any], text: str, error: bool
    ) -> FunctionCallOutput:
        return FunctionCallOutput(
            call_id=call.call_id, output=text, agent=agent.name, tool_name=call.name, is_error=error
        )

    def _tool_event(self, agent: Agent[Any], output: FunctionCallOutput) -> None:
        if self.emit is not None:
            self._send(ItemEvent(agent=agent.name, name="tool_output", item=output))

    # ----------------------------------------------------------------- tracing

    def _child_span(
        self, kind: SpanKind, name: str, attributes: dict[str, Any], parent: Span | None = None
    ) -> Span | None:
        """A started span under ``parent`` or the current agent's span (None when not
        tracing). Tool and guardrail spans become current, so spans of nested runs
        and custom spans inside a tool nest under them."""
        if self.trace is None:
            return None
        parent = parent or self._agent_span or self.parent_span
        span = self.tracer.span(kind, name, trace=self.trace, parent=parent, attributes=attributes)
        return span.start(make_current=kind in ("tool", "guardrail"))

    def _start_agent_span(self, node: AgentNode) -> None:
        self._end_agent_span()
        if self.trace is not None:
            self._agent_span = self.tracer.span(
                "agent",
                node.agent.name,
                trace=self.trace,
                parent=self.parent_span,
                attributes=agent_span_attributes(node),
            ).start(make_current=False)

    def _end_agent_span(self, error: BaseException | None = None) -> None:
        if self._agent_span is not None:
            self._agent_span.finish(error)
            self._agent_span = None


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it has really stopped (whatever it raised)."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
