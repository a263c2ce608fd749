"""Running tool calls: approvals, guardrails, concurrency, agents as tools.

Tools of one turn run concurrently; what a tool or the model gets wrong (bad
arguments, an exception, a timeout) becomes a tool output the model can act on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from ..agent import AgentTool, FunctionToolResult, StopAtTools, ToolsToFinalOutput
from ..context import ToolContext
from ..errors import ToolGuardrailTripwireTriggered, UserError
from ..guardrails import (
    GuardrailResult,
    GuardrailStage,
    ToolGuardrailData,
    ToolInputGuardrail,
    ToolOutputGuardrail,
)
from ..items import FunctionCall, FunctionCallOutput
from ..tools import FunctionTool, ToolArgumentsError, output_as_data, stringify_output
from ..tracing import Span
from ..tracing.log_redaction import redact_logs
from .commands import ApprovalRequest, RunTools, ToolsResult
from .graph import AgentNode
from .scope import NestedRun, RunScope
from .server_tools import ServerConnections

__all__ = ["ToolCalls"]

# A failing tool's exception may hold its arguments: the log line is redacted like a trace.
logger = redact_logs(logging.getLogger("ascent"))


class ToolCalls:
    """Carries out the ``RunTools`` command of one run."""

    def __init__(
        self, scope: RunScope, *, servers: ServerConnections, nested_run: NestedRun
    ) -> None:
        self.scope = scope
        self.servers = servers
        self.nested_run = nested_run

    async def run(self, command: RunTools) -> ToolsResult:
        node = self.scope.graph[command.agent]
        await self.servers.bind(node)
        usage_box: list[Any] = []
        values: dict[str, Any] = {}  # call id -> the value the tool returned
        calls = command.calls
        if len(calls) == 1:
            outcomes = [await self._run_tool(node, calls[0], command, usage_box, values)]
        else:
            outcomes = list(
                await asyncio.gather(
                    *(self._run_tool(node, c, command, usage_box, values) for c in calls)
                )
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
            done = [*command.completed, *outputs]
            await self._apply_tool_use_behavior(node, done, values, result)
        return result

    async def _run_tool(
        self,
        node: AgentNode,
        call: FunctionCall,
        command: RunTools,
        usage_box: list[Any],
        values: dict[str, Any],
    ) -> FunctionCallOutput | ApprovalRequest:
        scope = self.scope
        agent = node.agent
        tool = node.function_tools[call.name]
        decision = command.approvals.get(call.call_id)
        if decision is None:
            if tool.needs_approval is not False and await tool.requires_approval(
                scope.context, call.arguments, call.call_id
            ):
                return ApprovalRequest(
                    call_id=call.call_id,
                    tool_name=call.name,
                    arguments=call.arguments,
                    agent=agent.name,
                )
        elif not decision.approved:
            reason = f" Reason: {decision.reason}" if decision.reason else ""
            output = scope.tool_output(
                call,
                agent,
                f"The user rejected this tool call; it did not run.{reason}",
                error=True,
            )
            scope.send_tool_output(agent, output)
            return output
        if scope.has_hooks(agent):
            await scope.hook("on_tool_start", agent, call)
        attributes: dict[str, Any] = {"call_id": call.call_id}
        if scope.sensitive:
            attributes["arguments"] = call.arguments
        span = scope.child_span("tool", call.name, attributes)
        try:
            output = await self._invoke_tool(node, tool, call, usage_box, values, span)
        except BaseException as exc:
            if span is not None:
                span.finish(exc)
            raise
        if span is not None:
            span.attributes["is_error"] = output.is_error
            if scope.sensitive:
                span.attributes["output"] = output.output
            span.finish(output.output if output.is_error else None)
        if scope.has_hooks(agent):
            await scope.hook("on_tool_end", agent, call, output)
        scope.send_tool_output(agent, output)
        return output

    async def _invoke_tool(
        self,
        node: AgentNode,
        tool: FunctionTool,
        call: FunctionCall,
        usage_box: list[Any],
        values: dict[str, Any],
        span: Span | None,
    ) -> FunctionCallOutput:
        scope = self.scope
        agent = node.agent
        tool_context = ToolContext(
            context=scope.context.context,
            run_id=scope.state.run_id,
            usage=scope.state.usage,
            agent_name=agent.name,
            tool_name=call.name,
            call_id=call.call_id,
            arguments=call.arguments,
        )
        check = ToolGuardrailData(context=tool_context, agent=agent, call=call)
        refusal = await self._tool_guardrails(tool.input_guardrails, check, "tool_input", span)
        if refusal is not None:
            return scope.tool_output(call, agent, refusal, error=True)
        try:
            if isinstance(tool, AgentTool):
                value, usage = await self._run_agent_tool(tool, call)
                usage_box.append(usage)
            else:
                value = await tool.invoke(tool_context, call.arguments)
            output = scope.tool_output(call, agent, stringify_output(value), error=False)
        except ToolArgumentsError as exc:
            return scope.tool_output(
                call,
                agent,
                f"Error: invalid arguments for tool {call.name!r}: {exc}. "
                "Fix the arguments and call the tool again.",
                error=True,
            )
        except Exception as exc:
            logger.warning("tool %r failed: %s", call.name, exc, exc_info=True)
            return scope.tool_output(
                call,
                agent,
                f"Error: tool {call.name!r} failed: {type(exc).__name__}: {exc}",
                error=True,
            )
        check.output = output.output
        refusal = await self._tool_guardrails(tool.output_guardrails, check, "tool_output", span)
        if refusal is not None:
            return scope.tool_output(call, agent, refusal, error=True)
        values[call.call_id] = value
        return output

    async def _tool_guardrails(
        self,
        guardrails: list[ToolInputGuardrail] | list[ToolOutputGuardrail],
        check: ToolGuardrailData,
        stage: GuardrailStage,
        tool_span: Span | None,
    ) -> str | None:
        """The message to send instead of running (or returning) the tool, if any."""
        for guardrail in guardrails:
            span = self.scope.child_span("guardrail", guardrail.name, {"stage": stage}, tool_span)
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
        scope = self.scope
        result = await self.nested_run(
            tool.agent,
            tool.build_input(call.arguments),
            max_turns=tool.max_turns,
            context=scope.context.context,
            config=tool.run_config or scope.nested_config(),
            emit=scope.emit,
            parent_call_id=call.call_id,
            session=tool.session,
        )
        if result.interruptions:
            names = ", ".join(r.tool_name for r in result.interruptions)
            raise UserError(
                f"agent {tool.agent.name!r}, used as a tool, paused for approval of {names}; "
                "approvals inside agents used as tools are not supported: "
                "mark the agent tool itself with needs_approval instead"
            )
        if tool.custom_output_extractor is not None:
            extracted = tool.custom_output_extractor(result)
            if inspect.isawaitable(extracted):
                extracted = await extracted
            return str(extracted), result.usage
        return stringify_output(result.final_output), result.usage

    async def _apply_tool_use_behavior(
        self,
        node: AgentNode,
        outputs: list[FunctionCallOutput],
        values: dict[str, Any],
        result: ToolsResult,
    ) -> None:
        """Whether the tools' results end the run, and with what (as the SDK's
        ``tool_use_behavior``): the final output is a tool's value, recorded as
        JSON data and typed again by the tool's return type."""
        behavior = node.agent.tool_use_behavior
        if behavior == "run_llm_again" or not outputs:
            return
        results = [_tool_result(node, output, values) for output in outputs]
        succeeded = [r for r in results if not r.is_error]
        if behavior == "stop_on_first_tool":
            chosen = succeeded[:1]
        elif isinstance(behavior, StopAtTools):
            chosen = [r for r in succeeded if r.tool_name in behavior.names][:1]
        elif callable(behavior):
            decision = behavior(self.scope.context, results)
            if asyncio.iscoroutine(decision):
                decision = await decision
            if not isinstance(decision, ToolsToFinalOutput):
                raise UserError("a tool_use_behavior function must return ToolsToFinalOutput")
            result.is_final_output = decision.is_final_output
            if decision.is_final_output:
                value = decision.final_output
                result.final_output = output_as_data(value)
                # a tool's own value keeps its type through that tool's return type
                result.final_output_tool = next(
                    (r.tool_name for r in succeeded if r.output is value), None
                )
            return
        else:
            raise UserError(f"unknown tool_use_behavior {behavior!r}")
        if chosen:
            result.is_final_output = True
            result.final_output = output_as_data(chosen[0].output)
            result.final_output_tool = chosen[0].tool_name


def _tool_result(
    node: AgentNode, output: FunctionCallOutput, values: dict[str, Any]
) -> FunctionToolResult:
    """A call's result with the tool's value: the live one if it ran in this
    command, else rebuilt from its recorded text (it ran before a pause)."""
    name = output.tool_name or ""
    tool = node.function_tools.get(name)
    if output.call_id in values:
        value = values[output.call_id]
    elif output.is_error or tool is None:
        value = output.output
    else:
        value = tool.output_from_text(output.output)
    return FunctionToolResult(tool_name=name, output=value, item=output, tool=tool)
