"""The agent loop, written once, as a generator that yields commands.

It never does I/O. It decides what happens next from the run state and the
results the interpreter sends back, and records everything in the state. The
in-process :class:`~ascent.run.runner.Runner` and a durable interpreter run this
same generator; streamed and non-streamed runs differ only in the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from ..errors import (
    GuardrailTripwireTriggered,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelBehaviorError,
    OutputGuardrailTripwireTriggered,
    UserError,
)
from ..items import FunctionCall, FunctionCallOutput, Message, text_of
from ..models.base import ModelResponse
from .commands import (
    ApprovalDecision,
    AwaitApproval,
    CallModel,
    CheckEnabled,
    Command,
    GuardrailsResult,
    HandoffResult,
    ListTools,
    RunGuardrails,
    RunHandoff,
    RunTools,
    ServerTools,
    ToolsResult,
)
from .config import UnknownToolBehavior
from .graph import AgentGraph, AgentNode
from .state import PendingTools, RunState

__all__ = ["DEFAULT_OUTPUT_RETRIES", "agent_loop"]

DEFAULT_OUTPUT_RETRIES = 2

Loop = Generator[Command, Any, RunState]
Step = Generator[Command, Any, None]


def agent_loop(
    state: RunState,
    graph: AgentGraph,
    *,
    output_retries: int = DEFAULT_OUTPUT_RETRIES,
    unknown_tool: UnknownToolBehavior = "error_to_model",
    settled: Callable[[], None] | None = None,
) -> Loop:
    """Drive a run from ``state`` to a final output, yielding a command per step.

    Returns the final state (``status == "completed"``), or stops after yielding
    :class:`AwaitApproval` when the interpreter cannot wait (the state then says
    ``awaiting_approval``). Raises :class:`MaxTurnsExceeded` when turns run out.
    ``unknown_tool="raise"`` makes a call to a tool the agent does not offer
    fail the run with :class:`ModelBehaviorError` instead of answering it with
    an error. ``settled`` is called where the state is whole, between turns (a
    state saved there resumes as if never stopped): a checkpointing interpreter
    may save it then.
    """
    while state.status != "completed":
        if settled is not None:
            settled()
        if state.status == "awaiting_approval":
            missing = [r for r in state.interruptions if r.call_id not in state.approvals]
            if missing:
                decisions: dict[str, ApprovalDecision] = yield AwaitApproval(requests=missing)
                state.approvals.update(decisions)
                continue
            state.status = "running"
            state.interruptions = []
        if state.pending is not None:
            yield from _finish_tools(state, graph, unknown_tool)
        else:
            yield from _model_turn(state, graph, output_retries)
    return state


def _model_turn(state: RunState, graph: AgentGraph, output_retries: int) -> Step:
    if state.turn >= state.max_turns:
        raise MaxTurnsExceeded(state.max_turns, items=list(state.generated), state=state)
    state.turn += 1
    node = graph[state.current_agent]
    name = node.agent.name
    yield from _list_server_tools(state, node)
    disabled: list[str] = []
    if node.has_conditional_tools:
        disabled = yield CheckEnabled(agent=name)
    if disabled or state.disabled_tools:  # a pydantic assignment costs: only on change
        state.disabled_tools = disabled
    server = state.server_conversation
    items = state.items
    command = CallModel.model_construct(
        kind="call_model",
        agent=name,
        turn=state.turn,
        input=items if server is None else items[server.sent :],
        agent_start=not state.agent_started,
        reset_tool_choice=node.agent.reset_tool_choice and name in state.used_tools,
        disabled=disabled,
        previous_response_id=(
            state.last_response_id if server is not None and not server.conversation_id else None
        ),
        conversation_id=server.conversation_id if server is not None else None,
    )
    state.agent_started = True
    if state.turn == 1 and node.input_guardrails and not state.guardrail_results:
        # the run's first call: blocking input guardrails run before it, the
        # others beside it (a tripped one cancels it)
        guardrails = node.input_guardrails
        if any(not g.run_in_parallel for g in guardrails):
            checked: GuardrailsResult = yield RunGuardrails(
                stage="input", agent=name, input=state.input, parallel=False
            )
            _record_guardrails(state, checked, InputGuardrailTripwireTriggered)
        if any(g.run_in_parallel for g in guardrails):
            checked = yield RunGuardrails(
                stage="input", agent=name, input=state.input, alongside=command, parallel=True
            )
            _record_guardrails(state, checked, InputGuardrailTripwireTriggered)
            assert checked.response is not None
            response: ModelResponse = checked.response
        else:
            response = yield command
    else:
        response = yield command
    state.usage.record(response.usage, agent=name, model=response.model or "unknown")
    state.last_response_id = response.response_id

    calls: list[FunctionCall] = []
    handoff_call: FunctionCall | None = None
    for item in response.output:
        item.agent = name
        state.generated.append(item)
        if not isinstance(item, FunctionCall):
            continue
        if item.name in node.handoffs and item.name not in disabled and handoff_call is None:
            handoff_call = item
        else:
            calls.append(item)
    if server is not None:  # the provider now holds the input and its response
        server.sent = len(state.input) + len(state.generated)

    if calls or handoff_call is not None:
        state.pending = PendingTools(
            calls=calls,
            handoff=handoff_call,
            handoff_target=node.handoffs[handoff_call.name].agent.name if handoff_call else None,
        )
        return

    if not any(isinstance(i, Message) and i.role == "assistant" for i in response.output):
        return  # only reasoning or hosted tool activity: let the model go on

    text = text_of(response.output)
    if node.output is None:
        yield from _finish(state, node, text)
        return
    try:
        value = node.output.validate_json(text)
    except ValueError as exc:
        if state.output_retries >= output_retries:
            raise ModelBehaviorError(
                f"agent {name!r} did not produce valid {node.output.spec().name} output "
                f"after {output_retries + 1} attempts: {exc}"
            ) from None
        state.output_retries += 1
        state.generated.append(
            Message(
                role="user",
                agent=name,
                content=(
                    "Your last answer was not valid for the required output schema: "
                    f"{exc}. Answer again with JSON that matches the schema exactly."
                ),
            )
        )
        return
    yield from _finish(state, node, node.output.dump(value))


def _finish_tools(state: RunState, graph: AgentGraph, unknown_tool: UnknownToolBehavior) -> Step:
    pending = state.pending
    assert pending is not None
    node = graph[state.current_agent]
    name = node.agent.name
    yield from _list_server_tools(state, node)  # a state saved before it listed them

    remaining = pending.remaining()
    remote = state.remote_tool_names(name)
    offered = _offered_tools(state, node, remote)
    known = [c for c in remaining if c.name in offered and c.name not in node.handoffs]
    for call in remaining:
        if call.name in node.handoffs and call.name in offered:  # a second handoff
            pending.outputs.append(_extra_handoff(call, name))
        elif call.name not in offered:
            if unknown_tool == "raise":
                raise ModelBehaviorError(
                    f"the model of agent {name!r} called {call.name!r}, which is not one of "
                    f"its tools on this turn (available: {_listed(offered)}); "
                    "RunConfig(on_unknown_tool='error_to_model') answers such calls "
                    "with an error the model can act on"
                )
            pending.outputs.append(_unknown_tool(call, name, offered))
    if known:
        result: ToolsResult = yield RunTools(
            agent=name,
            calls=known,
            approvals={
                c.call_id: state.approvals[c.call_id] for c in known if c.call_id in state.approvals
            },
            completed=list(pending.outputs),
        )
        pending.outputs.extend(result.outputs)
        if result.usage is not None:
            state.usage.merge(result.usage)
        if result.pending:
            state.status = "awaiting_approval"
            state.interruptions = result.pending
            return
    else:
        result = ToolsResult(outputs=[])

    # every function call has its output: record them in call order
    by_id = {output.call_id: output for output in pending.outputs}
    for call in pending.calls:
        output = by_id[call.call_id]
        output.agent = output.agent or name
        output.tool_name = output.tool_name or call.name
        state.generated.append(output)
        state.approvals.pop(call.call_id, None)
    if pending.calls and name not in state.used_tools:
        state.used_tools.append(name)
    state.pending = None

    if pending.handoff is not None and pending.handoff_target is not None:
        handoff: HandoffResult = yield RunHandoff(
            agent=name,
            target=pending.handoff_target,
            call=pending.handoff,
            input_history=state.input,
            new_items=state.generated,
        )
        rewritten = (handoff.input_history not in (None, state.input)) or (
            handoff.new_items not in (None, state.generated)
        )
        state.generated.append(handoff.output)
        if handoff.accepted and rewritten and state.server_conversation is not None:
            raise UserError(
                f"the handoff to {pending.handoff_target!r} filters the conversation, but "
                "this run keeps it on the server (previous_response_id or "
                "conversation_id), which cannot forget what it was sent: drop the "
                "handoff's input filter or the server-side state"
            )
        if handoff.accepted:
            if handoff.input_history is not None:
                state.input = handoff.input_history
            if handoff.new_items is not None:
                # keep the handoff's output only beside its call: a provider
                # rejects an output whose call the filter removed
                call_id = handoff.output.call_id
                kept = any(
                    isinstance(i, FunctionCall) and i.call_id == call_id for i in handoff.new_items
                )
                state.generated = [*handoff.new_items, *([handoff.output] if kept else [])]
            state.current_agent = pending.handoff_target
            state.agent_started = False
        return

    if result.is_final_output:
        yield from _finish(state, node, result.final_output, tool=result.final_output_tool)


def _list_server_tools(state: RunState, node: AgentNode) -> Step:
    """List the tools of the agent's MCP servers, once per run and agent."""
    name = node.agent.name
    if node.agent.mcp_servers and name not in state.server_tools:
        listed: list[ServerTools] = yield ListTools(agent=name)
        state.server_tools[name] = listed


def _finish(state: RunState, node: AgentNode, output: Any, *, tool: str | None = None) -> Step:
    if node.output_guardrails:
        checked: GuardrailsResult = yield RunGuardrails(
            stage="output", agent=node.agent.name, output=output
        )
        _record_guardrails(state, checked, OutputGuardrailTripwireTriggered)
    state.final_output = output
    if tool is not None or state.final_output_tool is not None:
        state.final_output_tool = tool
    state.status = "completed"


def _record_guardrails(
    state: RunState, checked: GuardrailsResult, error: type[GuardrailTripwireTriggered]
) -> None:
    state.guardrail_results.extend(checked.results)
    if checked.usage is not None:
        state.usage.merge(checked.usage)
    tripped = checked.tripped
    if tripped is not None:
        raise error(tripped)


def _offered_tools(state: RunState, node: AgentNode, remote: set[str]) -> list[str]:
    """The tool and handoff names the model was offered on this turn, in order."""
    if not state.disabled_tools and not remote:  # the usual case, on every tool turn
        return node.tool_names()
    disabled = set(state.disabled_tools)
    names = [n for n in node.tool_names() if n not in disabled]
    return list(dict.fromkeys([*names, *sorted(remote)]))


def _listed(names: list[str]) -> str:
    return ", ".join(names) or "none"


def _unknown_tool(call: FunctionCall, agent: str, offered: list[str]) -> FunctionCallOutput:
    return FunctionCallOutput(
        call_id=call.call_id,
        output=(
            f"Error: there is no tool named {call.name!r}. Available tools: {_listed(offered)}."
        ),
        agent=agent,
        tool_name=call.name,
        is_error=True,
    )


def _extra_handoff(call: FunctionCall, agent: str) -> FunctionCallOutput:
    return FunctionCallOutput(
        call_id=call.call_id,
        output="Error: only one handoff can happen at a time; this one was ignored.",
        agent=agent,
        tool_name=call.name,
        is_error=True,
    )
