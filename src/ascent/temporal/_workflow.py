"""The workflow of a Temporal run: the agent loop, driven through the run seam.

This module runs inside Temporal's sandbox, re-imported for each run; every
other Ascent module is passed through (see :func:`~ascent.temporal.worker.sandbox_runner`).
The workflow calls :func:`~ascent.run.start.run_agent` with an interpreter
whose three hooks are Temporal's: a command is an activity, a pause for
approval waits for a signal, and a run's items reach its session (if it has
one) in activities of their own. The loop itself is pure, so the workflow is
deterministic: it reads no clock but Temporal's, and draws no random numbers
(the run's id is the workflow's).

A run whose history grows past its request's ``continue_as_new_after`` events
(or that Temporal asks to) continues as new with its :class:`RunState`, just
before a turn's tools run: the state there is one a run can start from again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from ..errors import AscentError, UserError
    from ..items import Item, input_to_items, items_to_json
    from ..run.commands import (
        ApprovalDecision,
        ApprovalRequest,
        AwaitApproval,
        CallModel,
        Command,
        RunTools,
        command_result_adapter,
    )
    from ..run.interpreter import Interpreter
    from ..run.start import new_state, run_agent
    from ..run.state import RunState
    from ._activities import failure
    from ._messages import (
        DECIDE_SIGNAL,
        EVENTS_ACTIVITY,
        EXECUTE_ACTIVITY,
        HISTORY_ACTIVITY,
        RECORD_ACTIVITY,
        RUN_WORKFLOW,
        SAVE_ACTIVITY,
        STATUS_QUERY,
        TURN_ACTIVITY,
        CommandRequest,
        EndRequest,
        PauseRequest,
        RunReply,
        RunRequest,
        RunStatusReply,
        SaveRequest,
        SleepReply,
        TurnRequest,
    )
    from ._policy import activity_options
    from .app import TemporalApp, served_app

__all__ = ["AgentRunWorkflow"]


class _ContinueAsNew(Exception):
    def __init__(self, state: dict[str, Any], saved: int) -> None:
        super().__init__("continue as new")
        self.state = state
        self.saved = saved  # how many of the state's items its session has


@workflow.defn(name=RUN_WORKFLOW)
class AgentRunWorkflow:
    """One agent run, from its input (or a saved state) to its final state."""

    def __init__(self) -> None:
        self._decisions: dict[str, ApprovalDecision] = {}
        self._waiting: list[ApprovalRequest] = []
        self._paused_at: str | None = None
        self._status = "running"
        self._generation = 0
        self._request: RunRequest | None = None
        self._executed = 0  # commands this generation of the run carried out
        self._activities = 0  # activities this generation scheduled (their ids)
        self._saved = 0  # how many of the run's items its session has
        self._state: RunState | None = None  # the run's, as it goes (its usage, on a failure)
        self._announced: str | None = None  # the agent the run's events last announced

    # ----------------------------------------------------------- signals, queries

    @workflow.signal(name=DECIDE_SIGNAL)
    def decide(self, decisions: dict[str, Any]) -> None:
        """Decisions on calls the run waits for (call id -> ApprovalDecision as JSON).
        A malformed one is ignored: a signal that raised would fail the run's task."""
        if not isinstance(decisions, dict):
            workflow.logger.warning("ignored decisions that are not a map of call ids")
            return
        for call_id, value in decisions.items():
            try:
                self._decisions[call_id] = ApprovalDecision.model_validate(value)
            except ValidationError:
                workflow.logger.warning("ignored a malformed decision on call %s", call_id)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> dict[str, Any]:
        return RunStatusReply(
            status=self._status,
            waiting=[r.model_dump(mode="json") for r in self._waiting],
            paused_at=self._paused_at,
            generation=self._generation,
        ).model_dump(mode="json")

    # ---------------------------------------------------------------------- run

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._run(request)
        except _ContinueAsNew as carried:
            assert self._request is not None
            following = self._request.model_copy(
                update={
                    "input": None,
                    "state": carried.state,
                    "saved_items": carried.saved,
                    "generation": self._generation + 1,
                }
            )
            workflow.continue_as_new(following.dump())
        except AscentError as exc:
            # A clear, final failure: an error raised in the workflow would
            # otherwise fail its task, which Temporal retries without end.
            await self._record_failure(f"{type(exc).__name__}: {exc}")
            raise failure(exc) from None
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                await self._record_failure(f"{cause.type}: {cause.message}")
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise

    async def _run(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            request = RunRequest.model_validate(raw)
        except ValidationError as exc:
            raise UserError(f"not a run request: {exc}") from None
        self._request = request
        self._generation = request.generation
        app = served_app(workflow.info().task_queue)
        agent = app.registry.get_agent(request.agent)
        config = dataclasses.replace(app.config, tracing_disabled=True, run_timeout=None)
        if request.state is not None:
            try:
                state = RunState.from_json(json.dumps(request.state))
            except ValidationError as exc:
                raise UserError(f"not a run state: {exc}") from None
            self._saved = request.saved_items
            self._announced = state.current_agent  # announced before the state was saved
        else:
            await self._take_turn(request, app)
            history = await self._session_history(request, app)
            state = new_state(
                agent,
                request.input if request.input is not None else "",
                history=history,
                run_id=workflow.info().workflow_id,
                max_turns=request.max_turns,
                previous_response_id=request.previous_response_id,
                conversation_id=request.conversation_id,
            )
            self._saved = len(history)
        self._state = state
        interpreter = functools.partial(_WorkflowInterpreter, workflow=self, app=app)
        result = await run_agent(
            agent,
            state,
            config=config,
            interpreter=interpreter,
            unsaved_input=state.items[self._saved :],
        )
        self._status = result.state.status
        await self._record_end(
            "completed",
            output=result.state.model_dump(mode="json")["final_output"],
            usage=result.state.usage.model_dump(mode="json"),
        )
        return RunReply(
            state=result.state.model_dump(mode="json"),
            finished_at=workflow.now().isoformat(),
            generation=self._generation,
        ).model_dump(mode="json")

    async def _record_failure(self, error: str) -> None:
        """Write the run's failure to its record; if that fails too (the worker keeps
        no records), the run fails with its own error, not this one's."""
        usage = None if self._state is None else self._state.usage.model_dump(mode="json")
        try:
            await self._record_end("failed", error=error, usage=usage)
        except ActivityError:
            workflow.logger.warning("could not record the failure of run %s", self._run_id())

    def _run_id(self) -> str:
        return workflow.info().workflow_id

    async def _record_end(
        self,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        """Write the run's end to the record a service keeps of it (if one does)."""
        request = self._request
        if request is None or not request.record:
            return
        app = served_app(workflow.info().task_queue)
        options = activity_options(_HISTORY, _NO_GRAPH, app.config, app)
        self._activities += 1
        await workflow.execute_activity(
            RECORD_ACTIVITY,
            EndRequest(
                run_id=workflow.info().workflow_id,
                status=status,
                output=output,
                error=error,
                usage=usage,
            ).model_dump(mode="json"),
            activity_id=f"{self._activities}-record_{status}",
            start_to_close_timeout=options.start_to_close,
            retry_policy=options.retry,
            summary=f"record_{status}",
        )

    async def _take_turn(self, request: RunRequest, app: TemporalApp) -> None:
        """Wait for the runs started before this one on its session (a service's run
        takes turns, as on DBOS). Each attempt of the activity waits a while; one
        that times out is tried again, without end, a second apart at most."""
        if not request.take_turns or request.session_id is None:
            return
        self._activities += 1
        await workflow.execute_activity(
            TURN_ACTIVITY,
            TurnRequest(run_id=self._run_id(), session_id=request.session_id).model_dump(
                mode="json"
            ),
            activity_id=f"{self._activities}-session_turn",
            start_to_close_timeout=timedelta(seconds=2 * _TURN_WAIT + 30),
            heartbeat_timeout=timedelta(seconds=min(app.heartbeat_timeout, _TURN_WAIT)),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=0.1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=1),
                maximum_attempts=0,  # the wait may be long (a run before it awaits approval)
                non_retryable_error_types=["UserError"],
            ),
            summary="session_turn",
        )

    async def _session_history(self, request: RunRequest, app: TemporalApp) -> list[Item]:
        if request.session_id is None:
            return []
        options = activity_options(_HISTORY, _NO_GRAPH, app.config, app)
        self._activities += 1
        data = await workflow.execute_activity(
            HISTORY_ACTIVITY,
            request.session_id,
            activity_id=f"{self._activities}-session_history",
            start_to_close_timeout=options.start_to_close,
            retry_policy=options.retry,
            summary="session_history",
        )
        return input_to_items(data)

    async def save_items(self, items: list[Item], state: RunState, app: TemporalApp) -> None:
        """Add items to the run's session, in an activity that writes them once."""
        assert self._request is not None
        session_id = self._request.session_id
        if session_id is None:
            return
        options = activity_options(_HISTORY, _NO_GRAPH, app.config, app)
        self._activities += 1
        await workflow.execute_activity(
            SAVE_ACTIVITY,
            SaveRequest(
                session_id=session_id,
                write_id=f"{state.run_id}:{self._generation}:{self._activities}",
                items=items_to_json(items),
            ).model_dump(mode="json"),
            activity_id=f"{self._activities}-save_items",
            start_to_close_timeout=options.start_to_close,
            retry_policy=options.retry,
            summary="save_items",
        )
        self._saved += len(items)

    # ------------------------------------------------- what the interpreter asks

    def continue_as_new_if_long(self, state: RunState) -> None:
        """Continue as new (carrying ``state``) once the history is long, if this
        generation of the run has done something (so it always moves on)."""
        assert self._request is not None
        info = workflow.info()
        long = info.get_current_history_length() >= self._request.continue_as_new_after
        if self._executed and (long or info.is_continue_as_new_suggested()):
            raise _ContinueAsNew(state.model_dump(mode="json"), self._saved)

    async def execute(self, command: Command, state: RunState, app: TemporalApp, graph: Any) -> Any:
        config = dataclasses.replace(app.config, tracing_disabled=True, run_timeout=None)
        options = activity_options(command, graph, config, app)
        agent = getattr(command, "agent", state.current_agent)
        wakes: dict[str, float] = {}
        while True:
            request = CommandRequest(
                run_id=state.run_id,
                starting_agent=state.starting_agent,
                current_agent=state.current_agent,
                usage=state.usage.model_dump(mode="json"),
                server_tools=state.model_dump(mode="json", include={"server_tools"})[
                    "server_tools"
                ],
                command=command.model_dump(mode="json"),
                now=workflow.now().timestamp(),
                wakes=wakes,
                announced=self._announced,
            )
            # The id names the command, so a replay that would take another step than
            # the recorded one fails as non-deterministic (every command is one
            # activity type): replaying a recorded history checks the loop.
            self._activities += 1
            data = await workflow.execute_activity(
                EXECUTE_ACTIVITY,
                request.model_dump(mode="json"),
                activity_id=f"{self._activities}-{command.kind}-{agent}",
                start_to_close_timeout=options.start_to_close,
                heartbeat_timeout=options.heartbeat,
                retry_policy=options.retry,
                summary=command.kind,
            )
            sleep = SleepReply.found_in(data)
            if sleep is None:
                break
            # A tool's durable_sleep: a timer in the history (a worker that dies
            # meanwhile does not start it over), then the step again, whose sleeps
            # have passed their wake times.
            wakes = sleep.wakes
            await workflow.sleep(
                max(0.0, sleep.ascent_sleep_until - workflow.now().timestamp()),
                summary=f"durable_sleep-{agent}",
            )
        self._executed += 1
        if isinstance(command, CallModel) and command.agent_start:
            self._announced = command.agent
        return command_result_adapter(command.kind).validate_python(data)

    async def wait_for_decisions(
        self, command: AwaitApproval, state: RunState, app: TemporalApp
    ) -> dict[str, ApprovalDecision]:
        requests = command.requests
        options = activity_options(command, _NO_GRAPH, app.config, app)
        self._activities += 1
        await workflow.execute_activity(
            EVENTS_ACTIVITY,
            PauseRequest(
                run_id=state.run_id,
                agent=state.current_agent,
                requests=[r.model_dump(mode="json") for r in requests],
            ).model_dump(mode="json"),
            start_to_close_timeout=options.start_to_close,
            retry_policy=options.retry,
            activity_id=f"{self._activities}-approval_required-{state.current_agent}",
            summary="approval_required",
        )
        self._waiting = list(requests)
        self._status = "awaiting_approval"
        self._paused_at = workflow.now().isoformat()
        wanted = {r.call_id for r in requests}
        await workflow.wait_condition(lambda: wanted <= self._decisions.keys())
        self._waiting = []
        self._status = "running"
        self._paused_at = None
        return {call_id: self._decisions.pop(call_id) for call_id in wanted}


_TURN_WAIT = 60.0  # seconds an attempt of a session's turn waits at most (half its limit)
_NO_GRAPH: Any = None  # an approval's activity options need no agent
_HISTORY: Any = AwaitApproval(requests=[])  # neither does a session's: the default limit


class _WorkflowInterpreter(Interpreter):
    """The in-process interpreter with Temporal's effects (see the module's docstring)."""

    def __init__(self, *, workflow: AgentRunWorkflow, app: TemporalApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow = workflow
        self.app = app

    async def execute(self, command: Command) -> Any:
        if isinstance(command, RunTools):
            self.workflow.continue_as_new_if_long(self.state)
        return await self.workflow.execute(command, self.state, self.app, self.scope.graph)

    async def await_approval(self, command: AwaitApproval) -> dict[str, ApprovalDecision] | None:
        return await self.workflow.wait_for_decisions(command, self.state, self.app)

    async def save_items(self, items: list[Item]) -> None:
        await self.workflow.save_items(items, self.state, self.app)
