"""``Runner``: run an agent in this process, plainly, synchronously or streamed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Callable
from typing import Any

from ..agent import Agent
from ..context import RunContext
from ..errors import UserError
from ..items import Item, input_to_items
from ..lifecycle import RunHooks
from ..memory.current_run import run_input
from ..memory.session import Session
from ..tracing import current_span, current_trace, get_trace_provider
from .config import DEFAULT_MAX_TURNS, RunConfig
from .graph import AgentGraph
from .interpreter import Emit, Interpreter
from .result import RunResult, RunResultStreaming
from .state import RunState

__all__ = ["Runner"]

RunInput = str | list[Any] | RunState


class Runner:
    """Runs agents. ``run`` is the async form; ``run_sync`` and ``run_streamed`` wrap it."""

    @classmethod
    async def run(
        cls,
        starting_agent: Agent[Any],
        input: RunInput,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input`` until it produces a final output.

        ``input`` is a string, a list of items (dicts or item objects), or a
        :class:`RunState` from a paused run to resume. With a ``session``, its
        history comes before the input and the run's items are added to it after
        every turn.
        """
        return await _execute(
            starting_agent,
            input,
            context=context,
            max_turns=max_turns,
            session=session,
            hooks=hooks,
            config=run_config or _DEFAULT_CONFIG,
            emit=None,
        )

    @classmethod
    def run_sync(
        cls,
        starting_agent: Agent[Any],
        input: RunInput,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
    ) -> RunResult:
        """Run and wait. Works with or without an event loop already running in
        this thread (Jupyter, a FastAPI handler): there, the run gets a worker
        thread and an event loop of its own."""
        coroutine = cls.run(
            starting_agent,
            input,
            context=context,
            max_turns=max_turns,
            session=session,
            hooks=hooks,
            run_config=run_config,
        )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Agent[Any],
        input: RunInput,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
    ) -> RunResultStreaming:
        """Start a run and return at once; iterate ``stream_events()`` for its events.

        Must be called with an event loop running (from async code).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UserError(
                "run_streamed needs a running event loop: call it from async code "
                "(or use run_sync for a blocking run)"
            ) from None
        streaming = RunResultStreaming()
        task = loop.create_task(
            _execute(
                starting_agent,
                input,
                context=context,
                max_turns=max_turns,
                session=session,
                hooks=hooks,
                config=run_config or _DEFAULT_CONFIG,
                emit=streaming._emit,
            )
        )
        streaming._start(task)
        return streaming


_DEFAULT_CONFIG = RunConfig()


async def _execute(
    starting_agent: Agent[Any],
    input: RunInput,
    *,
    context: Any,
    max_turns: int,
    session: Session | None,
    hooks: RunHooks[Any] | None,
    config: RunConfig,
    emit: Emit | None,
    parent_call_id: str | None = None,
    interpreter_class: Callable[..., Interpreter] = Interpreter,
) -> RunResult:
    """Run ``starting_agent`` with an interpreter of ``interpreter_class`` (the
    in-process one unless a durable engine brings its own)."""
    if not isinstance(starting_agent, Agent):
        raise UserError(f"expected an Agent, got {type(starting_agent).__name__}")
    graph = AgentGraph(
        starting_agent,
        input_guardrails=config.input_guardrails,
        output_guardrails=config.output_guardrails,
    )
    if isinstance(input, RunState):
        state = input
        if state.starting_agent != starting_agent.name:
            raise UserError(
                f"this state belongs to a run that started with {state.starting_agent!r}, "
                f"not {starting_agent.name!r}"
            )
        graph[state.current_agent]  # fails clearly when the agent is unknown
        if state.status == "awaiting_approval":
            undecided = [
                r.tool_name for r in state.interruptions if r.call_id not in state.approvals
            ]
            if undecided:
                raise UserError(
                    "approve or reject every pending tool call before resuming "
                    f"(undecided: {', '.join(undecided)})"
                )
        new_input: list[Item] = []
    else:
        new_input = input_to_items(input)
        history = await session.get_items() if session is not None else []
        state = RunState(
            starting_agent=starting_agent.name,
            current_agent=starting_agent.name,
            input=[*history, *new_input],
            max_turns=max_turns,
        )
    if new_input and session is not None:
        await session.add_items(new_input)
    run_context = RunContext(context=context, run_id=state.run_id, usage=state.usage)
    tracer = get_trace_provider()
    trace = current_trace()
    if trace is not None and trace.ended_at is not None:
        trace = None  # a finished trace left as current: start afresh
    own_trace = None
    if trace is None and tracer.enabled and not config.tracing_disabled:
        metadata = {"run_id": state.run_id, **config.trace_metadata}
        trace = own_trace = tracer.trace(
            config.workflow_name,
            trace_id=config.trace_id,
            group_id=config.group_id,
            metadata=metadata,
        ).start()
    elif config.tracing_disabled:
        trace = None
    interpreter = interpreter_class(
        graph=graph,
        state=state,
        context=run_context,
        config=config,
        hooks=hooks,
        session=session,
        emit=emit,
        nested_run=_nested,
        parent_call_id=parent_call_id,
        trace=trace,
        parent_span=current_span() if trace is not None else None,
    )
    try:
        with run_input(state.input):  # for automatic memory recall and extraction
            await interpreter.drive()
    except BaseException as exc:
        if own_trace is not None:
            own_trace.finish(exc)
        raise
    if own_trace is not None:
        own_trace.finish()
    last = graph[state.current_agent]
    final_output = state.final_output
    if state.status == "completed" and last.output is not None:
        final_output = last.output.load(final_output)
    return RunResult(
        input=state.input,
        new_items=state.generated,
        final_output=final_output if state.status == "completed" else None,
        last_agent=last.agent,
        usage=state.usage,
        state=state,
        interruptions=list(state.interruptions),
    )


async def _nested(
    agent: Agent[Any],
    request: str | list[Item],
    *,
    max_turns: int | None,
    context: Any,
    config: RunConfig,
    emit: Emit | None,
    parent_call_id: str | None,
) -> RunResult:
    """A run inside a run (an agent used as a tool, a classifier guardrail): its
    events join the caller's stream and its spans the caller's trace. The run's
    own guardrails stay with the outer run (a classifier guardrail would
    otherwise check itself, without end)."""
    return await _execute(
        agent,
        request,
        context=context,
        max_turns=max_turns or DEFAULT_MAX_TURNS,
        session=None,
        hooks=None,
        config=_nested_config(config),
        emit=emit,
        parent_call_id=parent_call_id,
    )


def _nested_config(config: RunConfig) -> RunConfig:
    if not config.input_guardrails and not config.output_guardrails:
        return config
    return dataclasses.replace(config, input_guardrails=[], output_guardrails=[])
