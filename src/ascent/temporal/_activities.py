"""The activities of a Temporal run: any loop command, carried out in process.

One activity, :meth:`RunActivities.execute`, takes a command as JSON and hands
it to the in-process :class:`~ascent.run.interpreter.Interpreter` (its parts:
model calls, tools, guardrails, handoffs, MCP listings), made for this one
command over the run's graph and the part of its state those parts read. The
result goes back as JSON; Temporal records it, so a run that a crash
interrupted gets it back instead of carrying the command out again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..context import RunContext
from ..durable.records import run_trace_id
from ..durable.tools import emitting_with, sleeping_with
from ..errors import AscentError, MCPError, ModelAPIError, UserError
from ..items import input_to_items, items_to_json
from ..memory.session import IdempotentSession, read_history
from ..run.commands import ApprovalRequest, Command, command_result_adapter
from ..run.events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ResponseDiscardedEvent,
    StreamEvent,
)
from ..run.interpreter import Interpreter
from ..run.scope import Emit, RunScope, cancel_and_wait
from ..run.start import agent_graph, nested_run, open_trace
from ..run.state import RunState
from ._messages import (
    EVENTS_ACTIVITY,
    EXECUTE_ACTIVITY,
    HISTORY_ACTIVITY,
    RECORD_ACTIVITY,
    SAVE_ACTIVITY,
    TURN_ACTIVITY,
    CommandRequest,
    EndRequest,
    PauseRequest,
    SaveRequest,
    SleepReply,
    TurnRequest,
)
from .app import TemporalApp
from .events import RunOutbox, SessionTurns

__all__ = ["RunActivities", "failure"]

_COMMAND: TypeAdapter[Any] = TypeAdapter(Command)
# Failures that may pass: Temporal retries the activity. Any other error Ascent
# raises on purpose fails the run at once.
_TRANSIENT: tuple[type[AscentError], ...] = (ModelAPIError, MCPError)
_TURN_WAIT = 120.0  # seconds a session's run waits for its turn in one attempt


def failure(exc: AscentError) -> ApplicationError:
    """``exc`` as Temporal's failure, named by its class so a client can raise it again."""
    return ApplicationError(
        str(exc), type=type(exc).__name__, non_retryable=not isinstance(exc, _TRANSIENT)
    )


class RunActivities:
    """The activities a worker registers for ``app``."""

    def __init__(self, app: TemporalApp) -> None:
        self.app = app

    @activity.defn(name=EXECUTE_ACTIVITY)
    async def execute(self, request: dict[str, Any]) -> Any:
        """Carry out one command of a run; its result as JSON."""
        beating = asyncio.create_task(_heartbeat())
        command = CommandRequest.model_validate(request)
        try:
            return await _Sleeps(command).run(self._execute(command))
        except AscentError as exc:
            raise failure(exc) from exc
        finally:
            await cancel_and_wait(beating)
            if self.app.records is not None:  # what the command emitted is in the log
                await self.app.records.flush(command.run_id)

    async def _execute(self, request: CommandRequest) -> Any:
        records = self.app.records
        if not isinstance(records, RunOutbox):
            return await self._carry_out(request)
        # a tool's emit_event: once per activity (its retries emit the same event)
        info = activity.info()
        outbox = functools.partial(
            records.emit_event, request.run_id, f"{info.workflow_run_id}:{info.activity_id}"
        )

        async def emit_event(type: str, data: Any, topic: str, key: str | None) -> str:
            return await outbox(type, data, topic=topic, key=key)

        with emitting_with(emit_event):
            return await self._carry_out(request)

    async def _carry_out(self, request: CommandRequest) -> Any:
        app = self.app
        command = _COMMAND.validate_python(request.command)
        config = dataclasses.replace(app.config, run_timeout=None)
        if not config.tracing_disabled:  # each command's spans join the run's one trace
            metadata = {"run_id": request.run_id, **config.trace_metadata}
            config = dataclasses.replace(
                config, trace_id=run_trace_id(request.run_id), trace_metadata=metadata
            )
        graph = agent_graph(app.registry.get_agent(request.starting_agent), config)
        state = RunState.model_validate(
            {
                "run_id": request.run_id,
                "starting_agent": request.starting_agent,
                "current_agent": request.current_agent,
                "input": [],
                "usage": request.usage,
                "server_tools": request.server_tools,
            }
        )
        emit = self._emit(request.run_id, announced=request.announced)
        info = activity.info()
        if emit is not None and info.attempt > 1:
            emit(
                ResponseDiscardedEvent(
                    agent=getattr(command, "agent", request.current_agent),
                    reason="the activity was retried; this step runs again",
                )
            )
        trace = open_trace(config, state.run_id)
        scope = RunScope(
            graph=graph,
            state=state,
            context=RunContext(context=app.context, run_id=state.run_id, usage=state.usage),
            config=config,
            hooks=app.hooks,
            emit=emit,
            trace=trace.trace,
            parent_span=trace.parent_span,
        )
        interpreter = Interpreter(scope=scope, session=None, nested_run=nested_run)
        error: BaseException | None = None
        try:
            result = await interpreter.execute(command)
        except asyncio.CancelledError:  # a durable_sleep, or a cancelled run: no failure
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            await interpreter.servers.release()
            scope.end_agent_span(error)
            # an error Temporal tries again after is not the run's: the trace keeps none
            trace.finish(None if isinstance(error, _TRANSIENT) else error)
        return command_result_adapter(command.kind).dump_python(result, mode="json")

    @activity.defn(name=TURN_ACTIVITY)
    async def take_turn(self, request: dict[str, Any]) -> None:
        """Wait for the runs started before this one on its session to end (a
        service's runs take turns on a session, as on DBOS). The wait is bounded:
        one that times out fails, and Temporal tries it again (a run may wait for
        days behind one that waits for approval, with no history event meanwhile)."""
        turn = TurnRequest.model_validate(request)
        records = self.app.records
        if not isinstance(records, SessionTurns):
            raise failure(
                UserError(
                    "this run takes turns on its session, but the worker's TemporalApp "
                    "keeps no records that can: give it records= (a DatabaseRunLog on "
                    "the service's database), or start the worker with --database-url"
                )
            )
        beating = asyncio.create_task(_heartbeat())
        try:
            limit = activity.info().start_to_close_timeout
            timeout = (limit.total_seconds() if limit else _TURN_WAIT) / 2
            if not await records.take_turn(turn.run_id, turn.session_id, timeout=timeout):
                raise ApplicationError(f"run {turn.run_id} waits for its turn on its session")
        finally:
            await cancel_and_wait(beating)

    @activity.defn(name=EVENTS_ACTIVITY)
    async def paused(self, request: dict[str, Any]) -> None:
        """Tell the event log that a run waits for approval."""
        pause = PauseRequest.model_validate(request)
        if self.app.records is not None:  # the log's event and the record's status at once
            await self.app.records.paused(pause.run_id, pause.agent, pause.requests)
            return
        emit = self._emit(pause.run_id)
        if emit is not None:
            requests = [ApprovalRequest.model_validate(r) for r in pause.requests]
            emit(ApprovalRequiredEvent(agent=pause.agent, requests=requests))

    @activity.defn(name=RECORD_ACTIVITY)
    async def ended(self, request: dict[str, Any]) -> None:
        """Write a run's end to its record (a run a service started and keeps)."""
        end = EndRequest.model_validate(request)
        records = self.app.records
        if records is None:
            raise failure(
                UserError(
                    "this run's record is kept by a service, but the worker's TemporalApp "
                    "keeps no records: give it records= (a DatabaseRunLog on the "
                    "service's database), or start the worker with --database-url"
                )
            )
        await records.ended(
            end.run_id, status=end.status, output=end.output, error=end.error, usage=end.usage
        )

    @activity.defn(name=HISTORY_ACTIVITY)
    async def session_history(self, session_id: str) -> list[dict[str, Any]]:
        """The items of a session, for a run that continues its conversation."""
        try:
            items = await read_history(self.app.session(session_id))
        except AscentError as exc:
            raise failure(exc) from exc
        return items_to_json(items)

    @activity.defn(name=SAVE_ACTIVITY)
    async def save_items(self, request: dict[str, Any]) -> None:
        """Add a run's items to its session, once (a retried activity writes nothing twice
        where the session can tell)."""
        save = SaveRequest.model_validate(request)
        try:
            session = self.app.session(save.session_id)
        except AscentError as exc:
            raise failure(exc) from exc
        items = input_to_items(save.items)
        if isinstance(session, IdempotentSession):
            await session.add_items_once(items, save.write_id)
        else:
            await session.add_items(items)

    def _emit(self, run_id: str, *, announced: str | None = None) -> Emit | None:
        """What sends a command's events to the app's log; ``announced`` is the agent
        the run announced last (this command's interpreter knows of no earlier one)."""
        events = self.app.events
        if events is None:
            return None

        def emit(event: StreamEvent) -> None:
            if isinstance(event, AgentChangedEvent) and event.previous is None:
                event = dataclasses.replace(event, previous=announced)
            events.append(run_id, event)

        return emit


class _Sleeps:
    """``durable_sleep`` in a step's tools, as a workflow timer: the first sleep that
    has not reached its wake time stops the step, and the activity answers with a
    :class:`SleepReply`. Wake times count from the workflow's time (``now``), so a
    step the workflow runs again after its timer finds them passed."""

    def __init__(self, request: CommandRequest) -> None:
        self.request = request
        self.wakes = dict(request.wakes)
        self.until: float | None = None
        self.task: asyncio.Task[Any] | None = None

    async def run(self, step: Any) -> Any:
        self.task = asyncio.ensure_future(self._step(step))
        try:
            return await self.task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self.until is None or (me is not None and me.cancelling()):
                raise  # the activity itself was cancelled
            return SleepReply(ascent_sleep_until=self.until, wakes=self.wakes).model_dump(
                mode="json"
            )

    async def _step(self, step: Any) -> Any:
        with sleeping_with(self.sleep):
            return await step

    async def sleep(self, seconds: float, key: str) -> None:
        now = self.request.now
        if now is None:  # a request from a workflow that knew no sleeps
            await asyncio.sleep(seconds)
            return
        wake_at = self.wakes.setdefault(key, now + seconds)
        if wake_at <= now:
            return
        if self.until is None or wake_at < self.until:
            self.until = wake_at
        assert self.task is not None
        self.task.cancel()  # the workflow sleeps; this step runs again after
        await asyncio.Event().wait()


async def _heartbeat() -> None:
    """Beat while the command runs, so Temporal sees a dead worker within the
    heartbeat timeout (not the command's whole time limit), and a cancelled run
    reaches the activity."""
    timeout = activity.info().heartbeat_timeout
    if timeout is None:
        return
    pause = max(timeout.total_seconds() / 3, 0.1)
    while True:
        activity.heartbeat()
        await asyncio.sleep(pause)
