"""The in-process interpreter: executes the loop's commands with asyncio.

Each command kind has one method here. Tools of one turn run concurrently;
streamed runs forward the model's deltas as they arrive while the loop sees
only the assembled response, so streamed and plain runs produce the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from ..agent import Agent, AgentTool, StopAtTools, ToolsToFinalOutput
from ..context import RunContext, ToolContext
from ..errors import ProviderCapabilityError, ToolGuardrailTripwireTriggered, UserError
from ..guardrails import (
    GuardrailResult,
    GuardrailStage,
    InputGuardrail,
    OutputGuardrail,
    ToolGuardrailData,
    ToolInputGuardrail,
    ToolOutputGuardrail,
)
from ..handoffs import HandoffInputData, handoff_output
from ..items import (
    HOSTED_CALL_TYPES,
    FunctionCall,
    FunctionCallOutput,
    Item,
    Message,
    Reasoning,
    RunUsage,
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
from ..tools import FunctionTool, ToolArgumentsError, stringify_output
from ..tracing import Span, SpanKind, Trace, get_trace_provider
from .commands import (
    ApprovalRequest,
    AwaitApproval,
    CallModel,
    GuardrailsResult,
    HandoffResult,
    RunGuardrails,
    RunHandoff,
    RunTools,
    ToolsResult,
)
from .config import RunConfig
from .events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ItemEvent,
    ItemEventName,
    ReasoningDeltaEvent,
    ResponseDiscardedEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallArgumentsDeltaEvent,
)
from .graph import AgentGraph, AgentNode
from .loop import agent_loop
from .state import RunState
from .tracing import agent_span_attributes, finish_model_span, model_span_attributes

__all__ = ["Interpreter"]

logger = logging.getLogger("ascent")

Emit = Callable[[StreamEvent], None]
# Runs an agent used as a tool; provided by the Runner (it owns run setup).
NestedRun = Callable[..., Any]


class Interpreter:
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

    # ------------------------------------------------------------------ driving

    async def drive(self) -> RunState:
        state = self.state
        loop = agent_loop(state, self.graph, output_retries=self.config.max_output_retries)
        if state.agent_started:  # a resumed run: its agent is already at work
            self._start_agent_span(self.graph[state.current_agent])
        try:
            command = next(loop)
            while True:
                if isinstance(command, CallModel):
                    result: Any = await self.call_model(command)
                elif isinstance(command, RunTools):
                    result = await self.run_tools(command)
                elif isinstance(command, RunHandoff):
                    result = await self.run_handoff(command)
                elif isinstance(command, RunGuardrails):
                    result = await self.run_guardrails(command)
                elif isinstance(command, AwaitApproval):
                    # In process, a pause ends the run; the caller resumes it with decisions.
                    loop.close()
                    self._send(
                        ApprovalRequiredEvent(agent=state.current_agent, requests=command.requests)
                    )
                    break
                else:  # pragma: no cover - the loop yields nothing else
                    raise UserError(f"unknown command {command!r}")
                await self._save_new_items()
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

    # ------------------------------------------------------------------- tools

    async def run_tools(self, command: RunTools) -> ToolsResult:
        node = self.graph[command.agent]
        usage_box: list[Any] = []
        calls = command.calls
        if len(calls) == 1:
            outcomes = [await self._run_tool(node, calls[0], command, usage_box)]
        else:
            outcomes = list(
                await asyncio.gather(*(self._run_tool(node, c, command, usage_box) for c in calls))
            )
        outputs = [o for o in outcomes if isinstance(o, FunctionCallOutput)]
        pending = [o for o in outcomes if isinstance(o, ApprovalRequest)]
        result = ToolsResult(outputs=outputs, pending=pending)
        if usage_box:
            total = usage_box[0]
            for extra in usage_box[1:]:
                total.merge(extra)
            result.usage = total
        if not pending:
            await self._apply_tool_use_behavior(node.agent, [*command.completed, *outputs], result)
        return result

    async def _run_tool(
        self, node: AgentNode, call: FunctionCall, command: RunTools, usage_box: list[Any]
    ) -> FunctionCallOutput | ApprovalRequest:
        agent = node.agent
        tool = node.function_tools[call.name]
        decision = command.approvals.get(call.call_id)
        if decision is None:
            if tool.needs_approval is not False and await tool.requires_approval(
                self.context, call.arguments
            ):
                return ApprovalRequest(
                    call_id=call.call_id,
                    tool_name=call.name,
                    arguments=call.arguments,
                    agent=agent.name,
                )
        elif not decision.approved:
            reason = f" Reason: {decision.reason}" if decision.reason else ""
            output = self._output(
                call, agent, f"The user rejected this tool call; it did not run.{reason}", True
            )
            self._tool_event(agent, output)
            return output
        await self._hook("on_tool_start", agent, call)
        attributes: dict[str, Any] = {"call_id": call.call_id}
        if self.sensitive:
            attributes["arguments"] = call.arguments
        span = self._child_span("tool", call.name, attributes)
        try:
            output = await self._invoke_tool(node, tool, call, usage_box, span)
        except BaseException as exc:
            if span is not None:
                span.finish(exc)
            raise
        if span is not None:
            span.attributes["is_error"] = output.is_error
            if self.sensitive:
                span.attributes["output"] = output.output
            span.finish(output.output if output.is_error else None)
        await self._hook("on_tool_end", agent, call, output)
        self._tool_event(agent, output)
        return output

    async def _invoke_tool(
        self,
        node: AgentNode,
        tool: FunctionTool,
        call: FunctionCall,
        usage_box: list[Any],
        span: Span | None,
    ) -> FunctionCallOutput:
        agent = node.agent
        tool_context = ToolContext(
            context=self.context.context,
            run_id=self.state.run_id,
            usage=self.state.usage,
            agent_name=agent.name,
            tool_name=call.name,
            call_id=call.call_id,
            arguments=call.arguments,
        )
        check = ToolGuardrailData(context=tool_context, agent=agent, call=call)
        refusal = await self._tool_guardrails(tool.input_guardrails, check, "tool_input", span)
        if refusal is not None:
            return self._output(call, agent, refusal, True)
        try:
            if isinstance(tool, AgentTool):
                text, usage = await self._run_agent_tool(tool, call)
                usage_box.append(usage)
            else:
                text = stringify_output(await tool.invoke(tool_context, call.arguments))
            output = self._output(call, agent, text, False)
        except ToolArgumentsError as exc:
            return self._output(
                call,
                agent,
                f"Error: invalid arguments for tool {call.name!r}: {exc}. "
                "Fix the arguments and call the tool again.",
                True,
            )
        except Exception as exc:
            logger.warning("tool %r failed: %s", call.name, exc, exc_info=True)
            return self._output(
                call, agent, f"Error: tool {call.name!r} failed: {type(exc).__name__}: {exc}", True
            )
        check.output = output.output
        refusal = await self._tool_guardrails(tool.output_guardrails, check, "tool_output", span)
        return output if refusal is None else self._output(call, agent, refusal, True)

    async def _tool_guardrails(
        self,
        guardrails: list[ToolInputGuardrail] | list[ToolOutputGuardrail],
        check: ToolGuardrailData,
        stage: GuardrailStage,
        tool_span: Span | None,
    ) -> str | None:
        """The message to send instead of running (or returning) the tool, if any."""
        for guardrail in guardrails:
            span = self._child_span("guardrail", guardrail.name, {"stage": stage}, tool_span)
            decision = await guardrail.run(check)
            if span is not None:
                span.attributes["triggered"] = decision.behavior != "allow"
                span.finish()
            if decision.behavior == "raise":
                raise ToolGuardrailTripwireTriggered(
                    GuardrailResult(
                        name=guardrail.name,
                        stage=stage,
                        tripwire_triggered=True,
                        output_info=decision.output_info,
                    )
                )
            if decision.behavior == "reject":
                return decision.message or f"Blocked by guardrail {guardrail.name!r}."
        return None

    async def _run_agent_tool(self, tool: AgentTool, call: FunctionCall) -> tuple[str, Any]:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from None
        request = arguments.get("input") if isinstance(arguments, dict) else None
        if not isinstance(request, str):
            raise ToolArgumentsError("'input' is required and must be a string")
        result = await self.nested_run(
            tool.agent,
            request,
            max_turns=tool.max_turns,
            context=self.context.context,
            config=self.config,
            emit=self.emit,
            parent_call_id=call.call_id,
        )
        if result.interruptions:
            names = ", ".join(r.tool_name for r in result.interruptions)
            raise UserError(
                f"agent {tool.agent.name!r}, used as a tool, paused for approval of {names}; "
                "approvals inside agents used as tools are not supported: "
                "mark the agent tool itself with needs_approval instead"
            )
        if tool.output_extractor is not None:
            extracted = tool.output_extractor(result)
            if asyncio.iscoroutine(extracted):
                extracted = await extracted
            return str(extracted), result.usage
        return stringify_output(result.final_output), result.usage

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

    async def _apply_tool_use_behavior(
        self, agent: Agent[Any], outputs: list[FunctionCallOutput], result: ToolsResult
    ) -> None:
        behavior = agent.tool_use_behavior
        if behavior == "run_llm_again" or not outputs:
            return
        succeeded = [o for o in outputs if not o.is_error]
        if behavior == "stop_on_first_tool":
            chosen = succeeded[:1]
        elif isinstance(behavior, StopAtTools):
            chosen = [o for o in succeeded if o.tool_name in behavior.names][:1]
        elif callable(behavior):
            decision = behavior(self.context, outputs)
            if asyncio.iscoroutine(decision):
                decision = await decision
            if not isinstance(decision, ToolsToFinalOutput):
                raise UserError("a tool_use_behavior function must return ToolsToFinalOutput")
            result.is_final_output = decision.is_final_output
            result.final_output = decision.final_output
            return
        else:
            raise UserError(f"unknown tool_use_behavior {behavior!r}")
        if chosen:
            result.is_final_output = True
            result.final_output = chosen[0].output

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

    # -------------------------------------------------------------- guardrails

    async def run_guardrails(self, command: RunGuardrails) -> GuardrailsResult:
        """One stage's guardrails; input ones beside the model call they may cancel."""
        node = self.graph[command.agent]
        if command.stage == "input":
            guardrails: list[Any] = node.input_guardrails
            value: Any = command.input
        else:
            guardrails = node.output_guardrails
            value = command.output if node.output is None else node.output.load(command.output)
        call = command.alongside
        if call is not None and call.agent_start and self._agent_span is None:
            self._start_agent_span(node)  # the guardrails' spans belong under it too
        model_call = asyncio.ensure_future(self.call_model(call)) if call is not None else None
        usage = RunUsage()
        try:
            results = await self._check_all(node, guardrails, command.stage, value, usage)
        except BaseException:
            if model_call is not None:
                await _cancel(model_call)
            raise
        verdict = GuardrailsResult(results=results, usage=usage if usage.requests else None)
        tripped = verdict.tripped
        if model_call is not None:
            if tripped is None:
                verdict.response = await model_call
            else:
                await _cancel(model_call)
                self._send(
                    ResponseDiscardedEvent(
                        agent=node.agent.name, reason=f"input guardrail {tripped.name!r} tripped"
                    )
                )
        return verdict

    async def _check_all(
        self,
        node: AgentNode,
        guardrails: list[Any],
        stage: GuardrailStage,
        value: Any,
        usage: RunUsage,
    ) -> list[GuardrailResult]:
        """Run guardrails concurrently; stop at the first that trips."""
        tasks = [
            asyncio.ensure_future(self._check_one(node, g, stage, value, usage)) for g in guardrails
        ]
        results: list[GuardrailResult] = []
        try:
            for finished in asyncio.as_completed(tasks):
                result = await finished
                results.append(result)
                if result.tripwire_triggered:
                    break
        finally:
            for task in tasks:
                if not task.done():
                    await _cancel(task)
        return results

    async def _check_one(
        self,
        node: AgentNode,
        guardrail: InputGuardrail | OutputGuardrail,
        stage: GuardrailStage,
        value: Any,
        usage: RunUsage,
    ) -> GuardrailResult:
        span = self._child_span("guardrail", guardrail.name, {"stage": stage})
        try:
            if guardrail.agent is not None:
                verdict = await self.nested_run(
                    guardrail.agent,
                    value if stage == "input" else stringify_output(value),
                    max_turns=None,
                    context=self.context.context,
                    config=self.config,
                    emit=None,
                    parent_call_id=None,
                )
                usage.merge(verdict.usage)
                outcome = guardrail.judge(verdict.final_output)
            else:
                outcome = await guardrail.run_check(self.context, node.agent, value)
        except BaseException as exc:
            if span is not None:
                span.finish(exc)
            raise
        if span is not None:
            span.attributes["triggered"] = outcome.tripwire_triggered
            span.finish()
        return GuardrailResult(
            name=guardrail.name,
            stage=stage,
            tripwire_triggered=outcome.tripwire_triggered,
            output_info=outcome.output_info,
        )

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


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it has really stopped (whatever it raised)."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
