"""The in-process interpreter: runs the agent loop, carrying out its commands with asyncio.

It is composed of parts, one per job: :class:`~.model_calls.ModelCalls`,
:class:`~.tool_calls.ToolCalls` (tools of one turn run concurrently),
:class:`~.guardrail_checks.GuardrailChecks` (input guardrails beside the model
call they may cancel) and :class:`~.server_tools.ServerConnections` (MCP
servers). Handoffs are carried out here.

Another interpreter (a durable one) subclasses :class:`Interpreter` and
overrides only its effects, the public hooks: :meth:`~Interpreter.execute`
(carry out one command), :meth:`~Interpreter.await_approval` (wait for
decisions, or pause) and :meth:`~Interpreter.save_items` (add a turn's items to
the session); a checkpointing one also notes where the state is whole
(:meth:`~Interpreter.settled`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from ..errors import RunTimeoutError, UserError
from ..handoffs import HandoffInputData, apply_input_filter, handoff_output
from ..items import FunctionCallOutput, Item
from ..memory.session import Session
from ..tools import ToolArgumentsError
from .commands import (
    ApprovalDecision,
    AwaitApproval,
    CallModel,
    CheckEnabled,
    Command,
    HandoffResult,
    ListTools,
    RunGuardrails,
    RunHandoff,
    RunTools,
)
from .events import ApprovalRequiredEvent, ItemEvent
from .guardrail_checks import GuardrailChecks
from .loop import agent_loop
from .model_calls import ModelCalls
from .scope import NestedRun, RunScope
from .server_tools import ServerConnections
from .state import RunState
from .tool_calls import ToolCalls

__all__ = ["Interpreter"]


class Interpreter:
    """Runs one agent loop to completion or to a pause for approval."""

    def __init__(
        self,
        *,
        scope: RunScope,
        session: Session | None,
        nested_run: NestedRun,
        unsaved_input: Sequence[Item] = (),
    ) -> None:
        self.scope = scope
        self.state = scope.state
        self.session = session
        self.servers = ServerConnections(scope.state)
        self.models = ModelCalls(scope, servers=self.servers)
        self.tools = ToolCalls(scope, servers=self.servers, nested_run=nested_run)
        self.guardrails = GuardrailChecks(scope, call_model=self.models.call, nested_run=nested_run)
        # What the session lacks of this run: its new input, then the items it made.
        self._unsaved: list[Item] = list(unsaved_input)
        self._seen = len(scope.state.generated)
        self._worked = 0.0  # seconds spent carrying out commands (for run_timeout)

    async def run(self) -> RunState:
        """Run the loop from the state until it completes or pauses."""
        try:
            return await self._run_loop()
        finally:
            await self.servers.release()

    # ------------------------------------------------------------------ the hooks

    async def execute(self, command: Command) -> Any:
        """Carry out one command and return its result (a durable interpreter
        overrides this to record each result as a step)."""
        if isinstance(command, CallModel):
            return await self.models.call(command)
        if isinstance(command, CheckEnabled):
            return await self.models.disabled_tools(self.scope.graph[command.agent])
        if isinstance(command, RunTools):
            return await self.tools.run(command)
        if isinstance(command, RunHandoff):
            return await self.run_handoff(command)
        if isinstance(command, RunGuardrails):
            return await self.guardrails.run(command)
        if isinstance(command, ListTools):
            return await self.servers.list(self.scope.graph[command.agent])
        raise UserError(f"unknown command {command!r}")  # pragma: no cover

    async def await_approval(self, command: AwaitApproval) -> dict[str, ApprovalDecision] | None:
        """The decisions on ``command``'s calls, or None to pause the run.

        In process, a pause ends the run; the caller resumes it with decisions.
        A durable interpreter waits for them instead.
        """
        self.scope.send(
            ApprovalRequiredEvent(agent=self.state.current_agent, requests=command.requests)
        )
        return None

    async def save_items(self, items: list[Item]) -> None:
        """Add the run's items to its session: its input and what it made, in one
        write when it pauses and one when it ends, so the items of one run land
        together and in order whatever else writes to the session. A run that
        fails adds nothing: a session never holds half a turn."""
        if self.session is not None:
            await self.session.add_items(items)

    def settled(self) -> None:
        """The loop is between turns, its state whole (a checkpointing interpreter
        notes it here, to save before the next command; nothing to do in process)."""

    def unsaved_items(self) -> list[Item]:
        """What the session lacks of this run so far: its new input and the items
        it made since the last :meth:`save_items` (for a checkpoint to carry)."""
        self._collect_new_items()
        return list(self._unsaved)

    # ------------------------------------------------------------------ the loop

    async def _run_loop(self) -> RunState:
        scope = self.scope
        state = self.state
        loop = agent_loop(
            state,
            scope.graph,
            output_retries=scope.config.max_output_retries,
            unknown_tool=scope.config.on_unknown_tool,
            # the in-process interpreter notes nothing: no call per turn for it
            settled=None if type(self).settled is Interpreter.settled else self.settled,
        )
        if state.agent_started:  # a resumed run: its agent is already at work
            scope.start_agent_span(scope.graph[state.current_agent])
        try:
            command = next(loop)
            while True:
                self._collect_new_items()
                if isinstance(command, AwaitApproval):
                    await self._save_unsaved()  # the run so far, before it waits
                    decisions = await self.await_approval(command)
                    if decisions is None:
                        loop.close()
                        break
                    result: Any = decisions
                else:
                    result = await self._execute_in_time(command)
                command = loop.send(result)
        except StopIteration:
            pass
        except BaseException as exc:
            scope.end_agent_span(exc)
            raise
        scope.end_agent_span()
        self._collect_new_items()
        await self._save_unsaved()
        if state.status == "completed":
            node = scope.graph[state.current_agent]
            if scope.has_hooks(node.agent):
                # the typed output (an output_type instance), as the run's result has it
                output = node.final_output(state.final_output, tool=state.final_output_tool)
                await scope.hook("on_agent_end", node.agent, output, agent_hook="on_end")
        return state

    async def _execute_in_time(self, command: Command) -> Any:
        """:meth:`execute` within what is left of the run's ``run_timeout``."""
        limit = self.scope.config.run_timeout
        if limit is None:
            return await self.execute(command)
        deadline = asyncio.timeout(max(limit - self._worked, 0.0))
        started = time.monotonic()
        try:
            async with deadline:
                return await self.execute(command)
        except TimeoutError:
            if deadline.expired():
                raise RunTimeoutError(limit) from None
            raise  # a TimeoutError of the command's own
        finally:
            self._worked += time.monotonic() - started

    def _collect_new_items(self) -> None:
        generated = self.state.generated
        if len(generated) > self._seen:
            self._unsaved.extend(generated[self._seen :])
        self._seen = len(generated)

    async def _save_unsaved(self) -> None:
        if self._unsaved:
            items, self._unsaved = self._unsaved, []
            await self.save_items(items)

    # ---------------------------------------------------------------- handoffs

    async def run_handoff(self, command: RunHandoff) -> HandoffResult:
        scope = self.scope
        node = scope.graph[command.agent]
        handoff = node.handoffs[command.call.name]
        source = node.agent
        target = scope.graph[command.target].agent
        try:
            await handoff.invoke(scope.context, command.call)
        except ToolArgumentsError as exc:
            output = FunctionCallOutput(
                call_id=command.call.call_id,
                output=f"Error: invalid arguments for {command.call.name!r}: {exc}",
                agent=source.name,
                tool_name=command.call.name,
                is_error=True,
            )
            scope.send_tool_output(source, output)
            return HandoffResult(accepted=False, output=output)
        span = scope.child_span(
            "handoff",
            f"{source.name} -> {target.name}",
            {"from_agent": source.name, "to_agent": target.name},
        )
        if span is not None:
            span.finish()
        scope.end_agent_span()
        if scope.hooks is not None:
            await scope.hooks.on_handoff(scope.context, source, target)
        if target.hooks is not None:
            await target.hooks.on_handoff(scope.context, target, source)
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
        # the handoff's own filter, else the run's (RunConfig.handoff_input_filter)
        input_filter = handoff.input_filter or scope.config.handoff_input_filter
        if input_filter is not None:
            filtered = await apply_input_filter(
                input_filter,
                HandoffInputData(
                    input_history=tuple(command.input_history), new_items=tuple(command.new_items)
                ),
            )
            result.input_history = list(filtered.input_history)
            result.new_items = list(filtered.new_items)
        if scope.streaming:
            scope.send(ItemEvent(agent=source.name, name="handoff", item=result.output))
        return result
