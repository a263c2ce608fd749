"""An A2A task is an Ascent run: the SDK's ``AgentExecutor`` for any agent.

The SDK's request handler owns the protocol (JSON-RPC, SSE, task bookkeeping,
cancellation of the executing coroutine); this executor maps one request onto
one streamed run of the agent:

- text deltas of the answer stream as chunks of the ``answer`` artifact, which
  is replaced by the final output when the run completes (a data part when the
  agent has a structured ``output_type``);
- tool calls and handoffs show as ``working`` status updates;
- a tool that needs approval pauses the task in ``input-required``; the run's
  state is stored, and the client's answer in the same task (a data part
  ``{"approve": true}`` or the text ``yes`` / ``no``) resumes it;
- cancelling the task cancels the run (the model call or tool in flight);
- tasks of one context share a session, so a follow-up sees the conversation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from a2a.helpers import new_data_part, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message as A2AMessage
from a2a.types import Part, Task, TaskState, TaskStatus

from ..agent import Agent
from ..errors import AscentError
from ..items import Message
from ..memory import open_session
from ..run import ApprovalRequest, RunConfig, Runner, RunState
from ..run.config import DEFAULT_MAX_TURNS
from ..run.events import AgentChangedEvent, ItemEvent, StreamEvent, TextDeltaEvent
from ._parts import data_of, output_to_parts, parts_to_content
from .store import SQLTaskStore

__all__ = ["ANSWER_ARTIFACT", "AscentAgentExecutor", "parse_decision"]

logger = logging.getLogger(__name__)

ANSWER_ARTIFACT = "answer"
_YES = frozenset({"yes", "y", "approve", "approved", "ok", "allow", "true"})
_NO = frozenset({"no", "n", "reject", "rejected", "deny", "denied", "decline", "false"})


@dataclass(slots=True)
class Decision:
    approved: bool
    reason: str | None = None


def parse_decision(message: A2AMessage | None) -> Decision | None:
    """A client's answer to an approval request, or ``None`` when it is not one.

    A data part ``{"approve": bool, "reason": str}`` or a text part such as
    ``yes`` / ``no`` decides; anything else is not an answer.
    """
    if message is None:
        return None
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "data":
            data = data_of(part)
            if isinstance(data, dict):
                value = data.get("approve", data.get("approved"))
                if isinstance(value, bool):
                    reason = data.get("reason")
                    return Decision(value, reason if isinstance(reason, str) else None)
        elif kind == "text":
            word = part.text.strip().strip(".!").lower()
            if word in _YES:
                return Decision(True)
            if word in _NO:
                return Decision(False)
    return None


class AscentAgentExecutor(AgentExecutor):
    """Runs ``agent`` for each A2A request; see the module docstring for the mapping.

    ``store`` keeps the run states of tasks paused for approval (the project
    database by default). ``sessions`` keeps each context's conversation in
    the project database so follow-up tasks see it.
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        store: SQLTaskStore | None = None,
        run_config: RunConfig | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        sessions: bool = True,
    ) -> None:
        self.agent = agent
        self.store = store or SQLTaskStore()
        self.run_config = run_config
        self.max_turns = max_turns
        self.sessions = sessions

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = context.task_id or "", context.context_id or ""
        updater = TaskUpdater(event_queue, task_id, context_id)
        message = context.message
        if context.current_task is None:
            history = [message] if message is not None else []
            status = TaskStatus(state=TaskState.TASK_STATE_SUBMITTED)
            await event_queue.enqueue_event(
                Task(id=task_id, context_id=context_id, status=status, history=history)
            )
        run_input: list[Any] | RunState
        saved = await self.store.load_run_state(task_id) if context.current_task else None
        if saved is not None:
            state = RunState.from_json(saved)
            decision = parse_decision(message)
            if decision is None:
                await updater.requires_input(
                    updater.new_agent_message(_approval_parts(state.interruptions, again=True))
                )
                return
            for request in state.interruptions:
                if decision.approved:
                    state.approve(request)
                else:
                    state.reject(request, reason=decision.reason)
            await self.store.delete_run_state(task_id)
            run_input = state
        else:
            content = parts_to_content(message.parts) if message is not None else []
            if not content:
                await updater.reject(
                    updater.new_agent_message(
                        [new_text_part("the message has no text, data or file part")]
                    )
                )
                return
            run_input = [Message(role="user", content=content)]
        await updater.start_work()
        try:
            await self._run(run_input, context, updater)
        except AscentError as exc:
            text = f"{type(exc).__name__}: {exc}"
            await updater.failed(updater.new_agent_message([new_text_part(text)]))

    async def _run(
        self, run_input: list[Any] | RunState, context: RequestContext, updater: TaskUpdater
    ) -> None:
        session = None
        if self.sessions:
            owner = context.call_context.user.user_name
            session = open_session(f"a2a:{owner}:{self.agent.name}:{updater.context_id}")
        streaming = Runner.run_streamed(
            self.agent,
            run_input,
            session=session,
            max_turns=self.max_turns,
            run_config=self.run_config,
        )
        streamed = False
        async for event in streaming.stream_events():
            streamed = await _forward(event, updater, streamed=streamed)
        result = streaming.result
        if result.interruptions:
            await self.store.save_run_state(updater.task_id, result.state.to_json())
            await updater.requires_input(
                updater.new_agent_message(_approval_parts(result.interruptions))
            )
            return
        await updater.add_artifact(
            output_to_parts(result.final_output),
            artifact_id=ANSWER_ARTIFACT,
            name=ANSWER_ARTIFACT,
            append=False,
            last_chunk=True,
        )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Mark the task cancelled; the SDK then cancels :meth:`execute`, and with it the run."""
        task_id = context.task_id or ""
        await self.store.delete_run_state(task_id)
        await TaskUpdater(event_queue, task_id, context.context_id or "").cancel()


async def _forward(event: StreamEvent, updater: TaskUpdater, *, streamed: bool) -> bool:
    """Publish one run event; returns whether the answer artifact exists yet."""
    if event.parent_call_id is not None:
        return streamed  # an agent used as a tool: its own answer is not this task's
    if isinstance(event, TextDeltaEvent):
        if event.delta:
            await updater.add_artifact(
                [new_text_part(event.delta)],
                artifact_id=ANSWER_ARTIFACT,
                name=ANSWER_ARTIFACT,
                append=streamed,
            )
            return True
    elif isinstance(event, ItemEvent) and event.name == "tool_call":
        name = getattr(event.item, "name", "")
        arguments = getattr(event.item, "arguments", "")
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            updater.new_agent_message(
                [new_text_part(f"{event.agent} calls {name} with {arguments}")],
                metadata={"ascent": {"event": "tool_call", "agent": event.agent, "tool": name}},
            ),
        )
    elif isinstance(event, AgentChangedEvent) and event.previous is not None:
        await updater.update_status(
            TaskState.TASK_STATE_WORKING,
            updater.new_agent_message(
                [new_text_part(f"{event.previous} hands off to {event.agent}")],
                metadata={"ascent": {"event": "handoff", "agent": event.agent}},
            ),
        )
    return streamed


def _approval_parts(requests: list[ApprovalRequest], *, again: bool = False) -> list[Part]:
    calls = ", ".join(f"{r.tool_name} with {r.arguments}" for r in requests)
    prefix = "That was not an answer. " if again else ""
    text = (
        f"{prefix}Approval needed: {requests[0].agent if requests else 'the agent'} wants to "
        f"call {calls}. Answer yes or no (or send a data part {json.dumps({'approve': True})})."
    )
    data = {"approvals": [request.model_dump(mode="json") for request in requests]}
    return [new_text_part(text), new_data_part(data)]
