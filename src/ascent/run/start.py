"""Starting, resuming and finishing a run: the seam every interpreter goes through.

:class:`~ascent.run.runner.Runner` (in process), the durable engine and any
later interpreter start and resume runs through these functions. What differs
between them is only the interpreter's effects (see
:class:`~ascent.run.interpreter.Interpreter`): ``run_agent(...,
interpreter=MyInterpreter)`` runs the one agent loop with them.

- :func:`new_state` makes the state of a new run from an agent, its input and
  the history before it (a session's);
- :func:`check_resumable` checks that a saved state can go on with a graph;
- :func:`open_trace` opens the run's trace (or joins the current one);
- :func:`run_result` turns a final (or paused) state into a :class:`RunResult`;
- :func:`run_agent` does all of it around the interpreter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..agent import Agent
from ..context import RunContext
from ..errors import UserError
from ..items import Item, input_to_items
from ..lifecycle import RunHooks
from ..memory.current_run import run_input
from ..memory.session import Session, read_history
from ..models import resolve_model
from ..models.base import ModelRequest
from ..tracing import Span, Trace, current_span, current_trace, get_trace_provider
from .config import DEFAULT_MAX_TURNS, RunConfig
from .graph import AgentGraph
from .interpreter import Interpreter
from .result import RunResult
from .scope import Emit, NestedRun, RunScope
from .state import RunState, ServerConversation

__all__ = [
    "InterpreterFactory",
    "RunInput",
    "RunTrace",
    "agent_graph",
    "check_resumable",
    "check_server_state",
    "nested_run",
    "new_state",
    "open_trace",
    "run_agent",
    "run_result",
    "server_state",
]

RunInput = str | list[Any]


class InterpreterFactory(Protocol):
    """Makes the interpreter of one run (an :class:`Interpreter` class, or a
    subclass with its own options bound, e.g. by ``functools.partial``)."""

    def __call__(
        self,
        *,
        scope: RunScope,
        session: Session | None,
        nested_run: NestedRun,
        unsaved_input: Sequence[Item] = (),
    ) -> Interpreter: ...


def agent_graph(agent: Agent[Any], config: RunConfig) -> AgentGraph:
    """The agents a run of ``agent`` can reach, with the run's own guardrails."""
    if not isinstance(agent, Agent):
        raise UserError(f"expected an Agent, got {type(agent).__name__}")
    return AgentGraph(
        agent, input_guardrails=config.input_guardrails, output_guardrails=config.output_guardrails
    )


def new_state(
    agent: Agent[Any] | str,
    input: RunInput,
    *,
    history: Sequence[Item] = (),
    max_turns: int = DEFAULT_MAX_TURNS,
    run_id: str | None = None,
    previous_response_id: str | None = None,
    conversation_id: str | None = None,
) -> RunState:
    """The state of a new run of ``agent`` (or an agent's name) on ``input``, after
    ``history``. Its new input items are ``state.input[len(history):]``.

    With ``previous_response_id`` or ``conversation_id`` the provider holds the
    conversation so far, ``history`` included: only the new input is sent.
    """
    name = agent if isinstance(agent, str) else agent.name
    server = None
    if previous_response_id is not None or conversation_id is not None:
        check_server_state(previous_response_id, conversation_id)
        server = ServerConversation(conversation_id=conversation_id, sent=len(history))
    state = RunState(
        run_id=run_id or uuid.uuid4().hex,
        starting_agent=name,
        current_agent=name,
        input=[*history, *input_to_items(input)],
        max_turns=max_turns,
    )
    if server is not None:  # set only when used: each field given costs a validation
        state.last_response_id = previous_response_id
        state.server_conversation = server
    return state


def check_server_state(previous_response_id: str | None, conversation_id: str | None) -> None:
    """Raise :class:`UserError` when a new run is given both ids (an interpreter
    that starts runs elsewhere checks them before it records the run)."""
    if previous_response_id is not None and conversation_id is not None:
        raise UserError(
            "give previous_response_id or conversation_id, not both: a conversation "
            "already knows its latest response"
        )


def server_state(
    agent: Agent[Any],
    config: RunConfig,
    previous_response_id: str | None,
    conversation_id: str | None,
) -> dict[str, str]:
    """A new run's server-side conversation as the arguments an engine records
    (``{}`` without one), checked before the run is recorded: a mistake is the
    caller's to hear, not a run that fails later. A provider that keeps no
    conversation raises :class:`ProviderCapabilityError`."""
    if previous_response_id is None and conversation_id is None:
        return {}
    check_server_state(previous_response_id, conversation_id)
    model = resolve_model(config.model or agent.model)
    if not getattr(model, "supports_server_state", False):
        request = ModelRequest(
            instructions=None,
            input=[],
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
        )
        request.refuse_server_state(model.name)
    if previous_response_id is not None:
        return {"previous_response_id": previous_response_id}
    assert conversation_id is not None
    return {"conversation_id": conversation_id}


def check_resumable(state: RunState, graph: AgentGraph) -> None:
    """Raise :class:`UserError` unless ``state`` can go on with ``graph``: the run
    began with the graph's starting agent, its current agent is reachable, and
    every call it paused for is decided."""
    if state.starting_agent != graph.start.name:
        raise UserError(
            f"this state belongs to a run that started with {state.starting_agent!r}, "
            f"not {graph.start.name!r}"
        )
    graph[state.current_agent]  # fails clearly when the agent is unknown
    if state.status == "awaiting_approval":
        undecided = [r.tool_name for r in state.interruptions if r.call_id not in state.approvals]
        if undecided:
            raise UserError(
                "approve or reject every pending tool call before resuming "
                f"(undecided: {', '.join(undecided)})"
            )


@dataclass(slots=True)
class RunTrace:
    """The trace a run reports to: its own (``owned``, finished with the run) or
    the caller's current one; ``trace`` is None when tracing is off."""

    trace: Trace | None
    parent_span: Span | None
    owned: Trace | None

    def finish(self, error: BaseException | None = None) -> None:
        if self.owned is not None:
            self.owned.finish(error)


def open_trace(config: RunConfig, run_id: str) -> RunTrace:
    """Join the current trace, or start the run's own (unless tracing is off)."""
    if config.tracing_disabled:
        return RunTrace(trace=None, parent_span=None, owned=None)
    tracer = get_trace_provider()
    trace = current_trace()
    if trace is not None and trace.ended_at is not None:
        trace = None  # a finished trace left as current: start afresh
    owned = None
    if trace is None and tracer.enabled:
        trace = owned = tracer.trace(
            config.workflow_name,
            trace_id=config.trace_id,
            group_id=config.group_id,
            metadata={"run_id": run_id, **config.trace_metadata},
        ).start()
    return RunTrace(
        trace=trace, parent_span=current_span() if trace is not None else None, owned=owned
    )


def run_result(state: RunState, graph: AgentGraph) -> RunResult:
    """What a run returns: the final output typed by the last agent's output type
    (None unless the run completed), the new items, usage and the state."""
    last = graph[state.current_agent]
    final_output = None
    if state.status == "completed":
        final_output = last.final_output(state.final_output, tool=state.final_output_tool)
    return RunResult(
        input=state.input,
        new_items=state.generated,
        final_output=final_output,
        last_agent=last.agent,
        usage=state.usage,
        state=state,
        interruptions=list(state.interruptions),
    )


async def run_agent(
    agent: Agent[Any],
    input: RunInput | RunState,
    *,
    config: RunConfig,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    session: Session | None = None,
    hooks: RunHooks[Any] | None = None,
    emit: Emit | None = None,
    parent_call_id: str | None = None,
    interpreter: InterpreterFactory = Interpreter,
    unsaved_input: Sequence[Item] | None = None,
    previous_response_id: str | None = None,
    conversation_id: str | None = None,
) -> RunResult:
    """Run ``agent`` on ``input`` (or resume a saved :class:`RunState`) with an
    interpreter made by ``interpreter``, until it completes or pauses.

    A new run reads ``session``'s history first; its new input is added to the
    session with the items it makes (see :meth:`Interpreter.save_items`). A
    resumed state carries its history already; ``unsaved_input`` names input
    of it that the session does not have yet (a durable run made its state
    itself).

    ``previous_response_id`` or ``conversation_id`` leave the conversation on
    the provider's side (the OpenAI Responses API): each call sends only what
    the provider has not seen, while the result holds every item as usual. A
    resumed state carries its own.
    """
    graph = agent_graph(agent, config)
    if isinstance(input, RunState):
        if previous_response_id is not None or conversation_id is not None:
            raise UserError(
                "a resumed RunState carries its own server-side conversation: leave out "
                "previous_response_id and conversation_id"
            )
        state = input
        check_resumable(state, graph)
        new_input: Sequence[Item] = unsaved_input or ()
    else:
        history = await read_history(session) if session is not None else []
        state = new_state(
            agent,
            input,
            history=history,
            max_turns=max_turns,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
        )
        new_input = state.input[len(history) :]
    trace = open_trace(config, state.run_id)
    scope = RunScope(
        graph=graph,
        state=state,
        context=RunContext(context=context, run_id=state.run_id, usage=state.usage),
        config=config,
        hooks=hooks,
        emit=emit,
        parent_call_id=parent_call_id,
        trace=trace.trace,
        parent_span=trace.parent_span,
    )
    runner = interpreter(
        scope=scope, session=session, nested_run=nested_run, unsaved_input=new_input
    )
    try:
        with run_input(state.input):  # for automatic memory recall and extraction
            await runner.run()
    except BaseException as exc:
        trace.finish(exc)
        raise
    trace.finish()
    return run_result(state, graph)


async def nested_run(
    agent: Agent[Any],
    request: str | list[Item],
    *,
    max_turns: int | None,
    context: Any,
    config: RunConfig,
    emit: Emit | None,
    parent_call_id: str | None,
    session: Session | None = None,
) -> RunResult:
    """A run inside a run (an agent used as a tool, a classifier guardrail), always
    in process (inside a durable step or a Temporal activity too): its events join
    the caller's stream and its spans the caller's trace. ``config`` is the inner
    run's own (see :meth:`RunScope.nested_config` for what it inherits from the
    caller)."""
    return await run_agent(
        agent,
        request,
        config=config,
        context=context,
        max_turns=max_turns or DEFAULT_MAX_TURNS,
        session=session,
        emit=emit,
        parent_call_id=parent_call_id,
    )
