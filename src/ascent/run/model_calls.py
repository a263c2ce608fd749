"""Calling models: the ``CallModel`` command, plain or streamed.

Streamed runs forward the model's deltas as they arrive while the loop sees
only the assembled response, so streamed and plain runs produce the same state.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
from typing import Any

from ..agent import Agent
from ..errors import ProviderCapabilityError, UserError
from ..items import HOSTED_CALL_TYPES, FunctionCall, Item, Message, Reasoning
from ..models import resolve_model
from ..models.base import (
    FunctionToolSpec,
    Model,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    ResponseCompleted,
    StreamRestarted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolSpec,
)
from ..tools import EnabledCheck, check_enabled
from .commands import CallModel
from .config import CallModelData, ModelInputData
from .events import (
    AgentChangedEvent,
    ItemEvent,
    ItemEventName,
    ReasoningDeltaEvent,
    ResponseDiscardedEvent,
    TextDeltaEvent,
    ToolCallArgumentsDeltaEvent,
)
from .graph import AgentNode
from .scope import RunScope
from .server_tools import ServerConnections
from .tracing import finish_model_span, model_span_attributes

__all__ = ["ModelCalls"]


class ModelCalls:
    """Carries out the ``CallModel`` command of one run."""

    def __init__(self, scope: RunScope, *, servers: ServerConnections) -> None:
        self.scope = scope
        self.servers = servers
        self._models: dict[str, Model] = {}
        self._tool_specs: dict[str, list[ToolSpec]] = {}
        self._announced: str | None = None
        self._input_seen = 0

    async def call(self, command: CallModel) -> ModelResponse:
        scope = self.scope
        node = scope.graph[command.agent]
        agent = node.agent
        context = scope.context
        context.agent_name = agent.name
        if await self.servers.bind(node):
            self._tool_specs.pop(agent.name, None)
        if command.agent_start:
            scope.send(AgentChangedEvent(agent=agent.name, previous=self._announced))
            self._announced = agent.name
            if scope.agent_span is None:
                scope.start_agent_span(node)
            if scope.has_hooks(agent):
                await scope.hook("on_agent_start", agent, agent_hook="on_start")
        model = self.model_for(agent)
        config = scope.config
        settings = agent.model_settings.merged(config.model_settings)
        if command.reset_tool_choice and settings.tool_choice not in (None, "auto", "none"):
            settings = dataclasses.replace(settings, tool_choice=None)
        if settings.timeout is None and config.model_timeout is not None:
            settings = dataclasses.replace(settings, timeout=config.model_timeout)
        instructions = await agent.get_instructions(context)
        items: list[Item] = command.input
        if config.call_model_input_filter is not None:
            edited = await self._filter_input(agent, instructions, items)
            instructions, items = edited.instructions, edited.input
        tools = self.tool_specs(node, model)
        if command.disabled:
            off = set(command.disabled)
            tools = [t for t in tools if not (isinstance(t, FunctionToolSpec) and t.name in off)]
        request = ModelRequest(
            instructions=instructions,
            input=items,
            tools=tools,
            output=node.output.spec() if node.output is not None else None,
            settings=settings,
            previous_response_id=command.previous_response_id,
            conversation_id=command.conversation_id,
        )
        server_state = command.previous_response_id is not None or command.conversation_id
        if server_state and not getattr(model, "supports_server_state", False):
            request.refuse_server_state(model.name)
        if scope.has_hooks(agent):
            await scope.hook("on_llm_start", agent, instructions, items)
        # A model span records only the input items new since the previous call,
        # so a trace grows with the conversation, not with its square (with
        # server-side state, the input holds only those already).
        seen = self._input_seen if self._input_seen <= len(items) else 0
        if server_state:
            seen = 0
        span = None
        if scope.trace is not None:  # the attributes cost a run that is not traced
            span = scope.child_span(
                "model",
                model.name,
                model_span_attributes(
                    model, agent, request, new_input=items[seen:], sensitive=scope.sensitive
                ),
            )
        try:
            if scope.streaming:
                response = await self._stream(model, request, agent.name)
            else:
                response = await model.respond(request)
        except BaseException as exc:
            if span is not None:
                span.finish(exc)
            raise
        response.model = model.name
        self._input_seen = len(items) + len(response.output)
        if span is not None:
            finish_model_span(span, response, sensitive=scope.sensitive)
        if scope.has_hooks(agent):
            # The loop counts the call when it receives the response; the hooks see it
            # counted already (as in the OpenAI Agents SDK), on a copy of the usage
            # (made only when a hook is there to see it).
            counted = scope.state.usage.model_copy(deep=True)
            counted.record(response.usage, agent=agent.name, model=response.model or "unknown")
            await scope.hook(
                "on_llm_end", agent, response, context=dataclasses.replace(context, usage=counted)
            )
        if scope.streaming:
            for item in response.output:
                name = _item_name(node, item, command.disabled)
                scope.send(ItemEvent(agent=agent.name, name=name, item=item))
        return response

    async def disabled_tools(self, node: AgentNode) -> list[str]:
        """The ``CheckEnabled`` command: the names of the agent's tools and handoffs
        whose ``is_enabled`` says no for this call, in the agent's order."""
        context = self.scope.context
        context.agent_name = node.agent.name
        checks: dict[str, EnabledCheck | bool] = {
            **{name: tool.is_enabled for name, tool in node.function_tools.items()},
            **{name: handoff.is_enabled for name, handoff in node.handoffs.items()},
        }
        verdicts = await asyncio.gather(
            *(check_enabled(check, context, node.agent) for check in checks.values())
        )
        return [name for name, enabled in zip(checks, verdicts, strict=True) if not enabled]

    async def _filter_input(
        self, agent: Agent[Any], instructions: str | None, items: list[Item]
    ) -> ModelInputData:
        """Run ``RunConfig.call_model_input_filter`` on one call's input (a copy:
        the run's own items are not the filter's to change)."""
        input_filter = self.scope.config.call_model_input_filter
        assert input_filter is not None
        data = CallModelData(
            model_data=ModelInputData(instructions=instructions, input=copy.deepcopy(items)),
            agent=agent,
            context=self.scope.context.context,
        )
        edited = input_filter(data)
        if inspect.isawaitable(edited):
            edited = await edited
        if not isinstance(edited, ModelInputData):
            raise UserError(
                "RunConfig.call_model_input_filter must return ModelInputData, "
                f"not {type(edited).__name__}"
            )
        return edited

    def model_for(self, agent: Agent[Any]) -> Model:
        model = self._models.get(agent.name)
        if model is None:
            model = resolve_model(self.scope.config.model or agent.model)
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

    async def _stream(self, model: Model, request: ModelRequest, agent: str) -> ModelResponse:
        response: ModelResponse | None = None
        send = self.scope.send
        async for event in model.stream(request):
            if isinstance(event, TextDelta):
                send(TextDeltaEvent(agent=agent, delta=event.delta, item_id=event.item_id))
            elif isinstance(event, ToolCallArgumentsDelta):
                send(
                    ToolCallArgumentsDeltaEvent(
                        agent=agent, call_id=event.call_id, name=event.name, delta=event.delta
                    )
                )
            elif isinstance(event, ReasoningDelta):
                send(ReasoningDeltaEvent(agent=agent, delta=event.delta, item_id=event.item_id))
            elif isinstance(event, StreamRestarted):
                send(ResponseDiscardedEvent(agent=agent, reason=event.reason))
            elif isinstance(event, ResponseCompleted):
                response = event.response
        if response is None:
            raise UserError(f"model {model.name!r} ended its stream without a response")
        return response


def _item_name(node: AgentNode, item: Item, disabled: list[str]) -> ItemEventName:
    if isinstance(item, Message):
        return "message"
    if isinstance(item, FunctionCall):
        is_handoff = item.name in node.handoffs and item.name not in disabled
        return "handoff_call" if is_handoff else "tool_call"
    if isinstance(item, Reasoning):
        return "reasoning"
    if getattr(item, "type", "") in HOSTED_CALL_TYPES:
        return "hosted_tool_call"
    return "message"
