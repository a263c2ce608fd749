"""The in-process interpreter: executes the loop's commands with asyncio.

This part drives the loop, calls models and hands off; tools and guardrails run
in :mod:`.tool_calls` and :mod:`.guardrail_checks`.

Each command kind has one method here. Tools of one turn run concurrently;
streamed runs forward the model's deltas as they arrive while the loop sees
only the assembled response, so streamed and plain runs produce the same state.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ..agent import Agent, MCPServerLike
from ..context import RunContext
from ..errors import ProviderCapabilityError, UserError
from ..handoffs import HandoffInputData, handoff_output
from ..items import (
    HOSTED_CALL_TYPES,
    FunctionCall,
    FunctionCallOutput,
    Item,
    Message,
    Reasoning,
)
from ..lifecycle import RunHooks
from ..memory.session import Session
from ..models import resolve_model
from ..models.base import (
    Model,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolSpec,
)
from ..tools import ToolArgumentsError
from ..tracing import Span, Trace, get_trace_provider
from .commands import (
    ApprovalDecision,
    AwaitApproval,
    CallModel,
    Command,
    HandoffResult,
    RunGuardrails,
    RunHandoff,
    RunTools,
)
from .config import RunConfig
from .events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ItemEvent,
    ItemEventName,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallArgumentsDeltaEvent,
)
from .execution import Emit, NestedRun
from .graph import AgentGraph, AgentNode
from .guardrail_checks import GuardrailChecks
from .loop import agent_loop
from .state import RunState
from .tool_calls import ToolCalls
from .tracing import finish_model_span, model_span_attributes

__all__ = ["Emit", "Interpreter"]

logger = logging.getLogger("ascent")


class Interpreter(ToolCalls, GuardrailChecks):
    """Runs one agent loop to completion or to a pause for approval."""

    def __init__(
        self,
        *,
        graph: AgentGraph,
        state: RunState,
        context: RunContext[Any],
        config: RunConfig,
        hooks: RunHooks[Any] | None,
        session: Session | None,
        emit: Emit | None,
        nested_run: NestedRun,
        parent_call_id: str | None = None,
        trace: Trace | None = None,
        parent_span: Span | None = None,
    ) -> None:
        self.graph = graph
        self.state = state
        self.context = context
        self.config = config
        self.hooks = hooks
        self.session = session
        self.emit = emit
        self.nested_run = nested_run
        self.parent_call_id = parent_call_id
        self._models: dict[str, Model] = {}
        self._tool_specs: dict[str, list[ToolSpec]] = {}
        self._saved = len(state.generated)
        self._announced: str | None = None
        self.trace = trace
        self.tracer = trace.provider if trace is not None else get_trace_provider()
        self.parent_span = parent_span
        self.sensitive = config.trace_include_sensitive_data
        self._agent_span: Span | None = None
        self._input_seen = 0
        self._mcp_listed: set[str] = set()
        self._mcp_held: list[MCPServerLike] = []

    # ------------------------------------------------------------------ driving

    async def drive(self) -> RunState:
        try:
            return await self._drive()
        finally:
            await self._release_mcp_servers()

    async def _drive(self) -> RunState:
        state = self.state
        loop = agent_loop(state, self.graph, output_retries=self.config.max_output_retries)
        await self._list_mcp_tools(self.graph[state.current_agent])
        if state.agent_started:  # a resumed run: its agent is already at work
            self._start_agent_span(self.graph[state.current_agent])
        try:
            command = next(loop)
            while True:
                if isinstance(command, AwaitApproval):
                    decisions = await self.await_approval(command)
                    if decisions is None:
                        loop.close()
                        break
                    result: Any = decisions
                else:
                    result = await self.execute(command)
                await self._save_new_items()
                # the loop checks the current agent's tool names before it runs them
                await self._list_mcp_tools(self.graph[state.current_agent])
                command = loop.send(result)
        except StopIteration:
            pass
        except BaseException as exc:
            self._end_agent_span(exc)
            raise
        self._end_agent_span()
        await self._save_new_items()
        if state.status == "completed":
            agent = self.graph[state.current_agent].agent
            await self._hook("on_agent_end", agent, state.final_output, agent_hook="on_end")
        return state

    async def execute(self, command: Command) -> Any:
        """Carry out one command and return its result (a durable interpreter
        overrides this to record each result as a step)."""
        if isinstance(command, CallModel):
            return await self.call_model(command)
        if isinstance(command, RunTools):
            return await self.run_tools(command)
        if isinstance(command, RunHandoff):
            return await self.run_handoff(command)
        if isinstance(command, RunGuardrails):
            return await self.run_guardrails(command)
        raise UserError(f"unknown command {command!r}")  # pragma: no cover

    async def await_approval(self, command: AwaitApproval) -> dict[str, ApprovalDecision] | None:
        """The decisions on ``command``'s calls, or None to pause the run.

        In process, a pause ends the run; the caller resumes it with decisions.
        A durable interpreter waits for them instead.
        """
        self._send(ApprovalRequiredEvent(agent=self.state.current_agent, requests=command.requests))
        return None

    async def _list_mcp_tools(self, node: AgentNode) -> None:
        """Add the tools of the agent's MCP servers, once per run and agent.

        A server not yet connected is connected here and closed when the run
        ends (see :meth:`_release_mcp_servers`); one that fails raises MCPError.
        """
        agent = node.agent
        if not agent.mcp_servers or agent.name in self._mcp_listed:
            return
        self._mcp_listed.add(agent.name)
        for server in agent.mcp_servers:
            await server.acquire()
            self._mcp_held.append(server)
            tools = await server.list_function_tools()
            node.add_function_tools(tools, source=f"MCP server {server.name!r}")
        self._tool_specs.pop(agent.name, None)

    async def _release_mcp_servers(self) -> None:
        held, self._mcp_held = self._mcp_held, []
        for server in reversed(held):
            try:
                await server.release()
            except Exception as exc:  # closing must not hide the run's outcome
                logger.warning("closing MCP server %r failed: %s", server.name, exc)

    async def _save_new_items(self) -> None:
        generated = self.state.generated
        if self.session is not None and len(generated) > self._saved:
            await self.session.add_items(generated[self._saved :])
        self._saved = len(generated)

    # ------------------------------------------------------------ model calls

    def model_for(self, agent: Agent[Any]) -> Model:
        model = self._models.get(agent.name)
        if model is None:
            model = resolve_model(self.config.model or agent.model)
            self._models[agent.name] = model
        return model

    def tool_specs(self, node: AgentNode, model: Model) -> list[ToolSpec]:
        specs = self._tool_specs.get(node.agent.name)
        if specs is None:
            if node.hosted_tools and not model.supports_hosted_tools:
                kinds = ", ".join(t.kind for t in node.hosted_tools)
                raise ProviderCapabilityError(
                    f"agent {node.agent.name!r} uses hosted tools ({kinds}) but model "
                    f"{model.name!r} does not support them; use an OpenAI Responses model "
                    "(openai:...) or replace them with function tools"
                )
            specs = [
                *(tool.spec() for tool in node.function_tools.values()),
                *(tool.spec() for tool in node.hosted_tools),
                *(handoff.spec() for handoff in node.handoffs.values()),
            ]
            self._tool_specs[node.agent.name] = specs
        return specs

    async def call_model(self, command: CallModel) -> ModelResponse:
        node = self.graph[command.agent]
        agent = node.agent
        context = self.context
        context.agent_name = agent.name
        await self._list_mcp_tools(node)
        if command.agent_start:
            self._send(AgentChangedEvent(agent=agent.name, previous=self._announced))
            self._announced = agent.name
            if self._agent_span is None:
                self._start_agent_span(node)
            await self._hook("on_agent_start", agent, agent_hook="on_start")
        model = self.model_for(agent)
        settings = agent.model_settings.merged(self.config.model_settings)
        if command.reset_tool_choice and settings.tool_choice not in (None, "auto", "none"):
            settings = dataclasses.replace(settings, tool_choice=None)
        instructions = await agent.get_instructions(context)
        request = ModelRequest(
            instructions=instructions,
            input=command.input,
            tools=self.tool_specs(node, model),
            output=node.output.spec() if node.output is not None else None,
            settings=settings,
        )
        await self._hook("on_llm_start", agent, instructions, command.input)
        # A model span records only the input items new since the previous call,
        # so a trace grows with the conversation, not with its square.
        seen = self._input_seen if self._input_seen <= len(command.input) else 0
        span = self._child_span(
            "model",
            model.name,
            model_span_attributes(
                model, agent, request, new_input=command.input[seen:], sensitive=self.sensitive
            ),
        )
        try:
            if self.emit is None:
                response = await model.respond(request)
            else:
                response = await self._stream_model(model, request, agent.name)
        except BaseException as exc:
            if span is not None:
                span.finish(exc)
            raise
        response.model = model.name
        self._input_seen = len(command.input) + len(response.output)
        if span is not None:
            finish_model_span(span, response, sensitive=self.sensitive)
        await self._hook("on_llm_end", agent, response)
        if self.emit is not None:
            for item in response.output:
                self._send(ItemEvent(agent=agent.name, name=self._item_name(node, item), item=item))
        return response

    async def _stream_model(self, model: Model, request: ModelRequest, agent: str) -> ModelResponse:
        response: ModelResponse | None = None
        emit = self._send
        async for event in model.stream(request):
            if isinstance(event, TextDelta):
                emit(TextDeltaEvent(agent=agent, delta=event.delta, item_id=event.item_id))
            elif isinstance(event, ToolCallArgumentsDelta):
                emit(
                    ToolCallArgumentsDeltaEvent(
                        agent=agent, call_id=event.call_id, name=event.name, delta=event.delta
                    )
                )
            elif isinstance(event, ReasoningDelta):
                emit(ReasoningDeltaEvent(agent=agent, delta=event.delta, item_id=event.item_id))
            elif isinstance(event, ResponseCompleted):
                response = event.response
        if response is None:
            raise UserError(f"model {model.name!r} ended its stream without a response")
        return response

    @staticmethod
    def _item_name(node: AgentNode, item: Item) -> ItemEventName:
        if isinstance(item, Message):
            return "message"
        if isinstance(item, FunctionCall):
            return "handoff_call" if item.name in node.handoffs else "tool_call"
        if isinstance(item, Reasoning):
            return "reasoning"
        if getattr(item, "type", "") in HOSTED_CALL_TYPES:
            return "hosted_tool_call"
        return "message"

    # ---------------------------------------------------------------- handoffs

    async def run_handoff(self, command: RunHandoff) -> HandoffResult:
        node = self.graph[command.agent]
        handoff = node.handoffs[command.call.name]
        source = node.agent
        target = self.graph[command.target].agent
        try:
            await handoff.invoke(self.context, command.call)
        except ToolArgumentsError as exc:
            output = FunctionCallOutput(
                call_id=command.call.call_id,
                output=f"Error: invalid arguments for {command.call.name!r}: {exc}",
                agent=source.name,
                tool_name=command.call.name,
                is_error=True,
            )
            self._tool_event(source, output)
            return HandoffResult(accepted=False, output=output)
        span = self._child_span(
            "handoff",
            f"{source.name} -> {target.name}",
            {"from_agent": source.name, "to_agent": target.name},
        )
        if span is not None:
            span.finish()
        self._end_agent_span()
        if self.hooks is not None:
            await self.hooks.on_handoff(self.context, source, target)
        if target.hooks is not None:
            await target.hooks.on_handoff(self.context, target, source)
        result = HandoffResult(
            accepted=True,
            output=FunctionCallOutput(
                call_id=command.call.call_id,
                output=handoff_output(target.name),
                agent=source.name,
                tool_name=command.call.name,
                handoff_to=target.name,
            ),
        )
        if handoff.input_filter is not None:
            filtered = await handoff.filter_input(
                HandoffInputData(
                    input_history=tuple(command.input_history), new_items=tuple(command.new_items)
                )
            )
            result.input_history = list(filtered.input_history)
            result.new_items = list(filtered.new_items)
        if self.emit is not None:
            self._send(ItemEvent(agent=source.name, name="handoff", item=result.output))
        return result
