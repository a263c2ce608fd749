"""Starting, following and deciding Temporal runs, from any process with a client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError, CancelledError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from .. import errors
from ..errors import AscentError, RunConflict, UserError
from ..items import Item
from ..run.commands import ApprovalDecision
from ..run.config import DEFAULT_MAX_TURNS, RunConfig
from ..run.registry import AgentRegistry, Agents
from ..run.result import RunResult
from ..run.start import agent_graph, check_server_state, run_result
from ..run.state import RunState
from ._messages import (
    DECIDE_SIGNAL,
    DEFAULT_CONTINUE_AS_NEW_AFTER,
    RUN_WORKFLOW,
    STATUS_QUERY,
    RunReply,
    RunRequest,
    RunStatusReply,
)

__all__ = ["RunStatusReply", "TemporalRuns"]

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


class TemporalRuns:
    """Runs of agents served by workers on ``task_queue``. A run's id is its
    workflow's id. With ``agents`` (the workers' agents), :meth:`result` returns
    a :class:`RunResult` whose final output has its agent's output type."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        agents: Agents | None = None,
        continue_as_new_after: int = DEFAULT_CONTINUE_AS_NEW_AFTER,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.agents = AgentRegistry(agents) if agents is not None else None
        self.continue_as_new_after = continue_as_new_after

    async def start(
        self,
        agent: str,
        input: str | list[Item] | RunState,
        *,
        run_id: str | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session_id: str | None = None,
        record: bool = False,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        take_turns: bool = False,
    ) -> str:
        """Start a run of ``agent`` on ``input`` (or go on with a saved state); its id.

        With ``session_id`` the run continues that session's conversation and adds
        its items to it (the workers' app opens sessions: ``TemporalApp.sessions``).
        With ``record`` the workers report the run's pause and end to their app's
        ``records`` (a service keeps its record: see :class:`TemporalEngine`), and
        with ``take_turns`` the run waits there for the runs started before it on
        its session to end. ``previous_response_id`` or ``conversation_id`` leave
        the conversation on the provider's side, as for ``Runner.run``.
        """
        if isinstance(input, RunState):
            # a session, if any, is taken to hold the state's items already
            request = RunRequest(
                agent=agent, state=input.model_dump(mode="json"), saved_items=len(input.items)
            )
            run_id = run_id or input.run_id
            request.continue_as_new_after = self.continue_as_new_after
        else:
            request = self._request(agent, input, max_turns=max_turns)
        request.session_id = session_id
        request.record = record
        request.take_turns = take_turns and session_id is not None
        if previous_response_id is not None or conversation_id is not None:
            if isinstance(input, RunState):
                raise UserError("a saved state carries its conversation: give no ids with it")
            check_server_state(previous_response_id, conversation_id)
            request.previous_response_id = previous_response_id
            request.conversation_id = conversation_id
        if run_id is None:
            raise UserError("give the run an id (run_id=...): it is its workflow's id")
        try:
            await self.client.start_workflow(
                RUN_WORKFLOW, request.dump(), id=run_id, task_queue=self.task_queue
            )
        except WorkflowAlreadyStartedError:
            raise RunConflict(f"a run with id {run_id!r} is already running") from None
        return run_id

    async def schedule(
        self,
        name: str,
        agent: str,
        input: str | list[Item],
        *,
        cron: str,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        """Run ``agent`` on ``input`` each time ``cron`` fires, as a Temporal schedule
        named ``name`` (each run's id is ``name`` and the time it fired)."""
        if self.agents is not None:
            self.agents.get_agent(agent)
        try:
            schedule = self.run_schedule(agent, input, cron=cron, name=name, max_turns=max_turns)
            await self.client.create_schedule(name, schedule)
        except RPCError as exc:
            raise UserError(f"cannot schedule {name!r}: {exc}") from None

    def run_schedule(
        self,
        agent: str,
        input: str | list[Item],
        *,
        cron: str,
        name: str = "",
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> Schedule:
        """The Temporal schedule that starts runs of ``agent`` on ``input`` at ``cron``."""
        request = self._request(agent, input, max_turns=max_turns)
        return Schedule(
            action=ScheduleActionStartWorkflow(
                RUN_WORKFLOW,
                request.model_dump(mode="json"),
                id=name or f"scheduled-{agent}",
                task_queue=self.task_queue,
            ),
            spec=ScheduleSpec(cron_expressions=[cron]),
        )

    async def unschedule(self, name: str) -> None:
        """Delete the schedule ``name`` (the runs it started are kept)."""
        try:
            await self.client.get_schedule_handle(name).delete()
        except RPCError as exc:
            raise UserError(f"cannot delete schedule {name!r}: {exc}") from None

    def _request(self, agent: str, input: str | list[Item], *, max_turns: int) -> RunRequest:
        data = input if isinstance(input, str) else _ITEMS.dump_python(input, mode="json")
        return RunRequest(
            agent=agent,
            input=data,
            max_turns=max_turns,
            continue_as_new_after=self.continue_as_new_after,
        )

    async def state(self, run_id: str) -> RunState:
        """The final state of the run, once it has finished (raises what failed it)."""
        return RunState.model_validate((await self._reply(run_id)).state)

    async def reply(self, run_id: str) -> RunReply:
        """The finished run's reply: its final state and when it finished."""
        return await self._reply(run_id)

    async def result(self, run_id: str) -> RunResult:
        """The finished run as a :class:`RunResult` (needs ``agents``)."""
        if self.agents is None:
            raise UserError("TemporalRuns needs the agents (agents=...) to build a RunResult")
        state = await self.state(run_id)
        graph = agent_graph(self.agents.get_agent(state.starting_agent), RunConfig())
        return run_result(state, graph)

    async def decide(self, run_id: str, decisions: Mapping[str, ApprovalDecision]) -> None:
        """Decide calls the run waits for (by call id)."""
        await self._handle(run_id).signal(
            DECIDE_SIGNAL, {k: v.model_dump(mode="json") for k, v in decisions.items()}
        )

    async def status(self, run_id: str) -> RunStatusReply:
        """Where the run stands (``waiting`` lists the calls waiting for a decision)."""
        reply = await self._handle(run_id).query(STATUS_QUERY)
        return RunStatusReply.model_validate(reply)

    async def cancel(self, run_id: str) -> None:
        """Cancel the run: the command in flight is cancelled (through its
        heartbeats), and the run ends as cancelled."""
        await self._handle(run_id).cancel()

    def _handle(self, run_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(run_id)

    async def _reply(self, run_id: str) -> RunReply:
        try:
            data = await self._handle(run_id).result()
        except WorkflowFailureError as exc:
            raise _ascent_error(exc) from None
        return RunReply.model_validate(data)


def _ascent_error(exc: WorkflowFailureError) -> AscentError:
    """The error that failed the run, as the Ascent error it was (by its name)."""
    cause: BaseException | None = exc.cause
    if isinstance(cause, CancelledError):
        return AscentError("the run was cancelled")
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if cause is None:
        return AscentError(f"the run failed: {exc.cause}")
    kind = getattr(errors, cause.type or "", None)
    if isinstance(kind, type) and issubclass(kind, AscentError):
        try:
            return kind(cause.message)
        except TypeError:  # an error built from more than a message
            pass
    return AscentError(f"{cause.type}: {cause.message}")
