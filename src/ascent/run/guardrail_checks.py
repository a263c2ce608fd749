"""Running guardrails: input ones before the model call (``run_in_parallel=False``)
or beside the call they may cancel, output ones before the final output is returned."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..guardrails import GuardrailResult, GuardrailStage, InputGuardrail, OutputGuardrail
from ..items import RunUsage
from ..models.base import ModelResponse
from ..tools import stringify_output
from .commands import CallModel, GuardrailsResult, RunGuardrails
from .events import ResponseDiscardedEvent
from .graph import AgentNode
from .scope import NestedRun, RunScope, cancel_and_wait

__all__ = ["GuardrailChecks"]


class GuardrailChecks:
    """Carries out the ``RunGuardrails`` command of one run; ``call_model`` makes
    the model call that input guardrails run beside."""

    def __init__(
        self,
        scope: RunScope,
        *,
        call_model: Callable[[CallModel], Awaitable[ModelResponse]],
        nested_run: NestedRun,
    ) -> None:
        self.scope = scope
        self.call_model = call_model
        self.nested_run = nested_run

    async def run(self, command: RunGuardrails) -> GuardrailsResult:
        """One stage's guardrails; input ones beside the model call they may cancel."""
        scope = self.scope
        node = scope.graph[command.agent]
        if command.stage == "input":
            guardrails: list[Any] = [
                g
                for g in node.input_guardrails
                if command.parallel is None or g.run_in_parallel == command.parallel
            ]
            value: Any = command.input
        else:
            guardrails = node.output_guardrails
            value = command.output if node.output is None else node.output.load(command.output)
        call = command.alongside
        if command.stage == "input" and scope.agent_span is None:
            scope.start_agent_span(node)  # the guardrails' spans belong under it too
        model_call = asyncio.ensure_future(self.call_model(call)) if call is not None else None
        usage = RunUsage()
        try:
            results = await self._check_all(node, guardrails, command.stage, value, usage)
        except BaseException:
            if model_call is not None:
                await cancel_and_wait(model_call)
            raise
        verdict = GuardrailsResult(results=results, usage=usage if usage.requests else None)
        tripped = verdict.tripped
        if model_call is not None:
            if tripped is None:
                verdict.response = await model_call
            else:
                await cancel_and_wait(model_call)
                scope.send(
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
                    await cancel_and_wait(task)
        return results

    async def _check_one(
        self,
        node: AgentNode,
        guardrail: InputGuardrail | OutputGuardrail,
        stage: GuardrailStage,
        value: Any,
        usage: RunUsage,
    ) -> GuardrailResult:
        scope = self.scope
        span = scope.child_span("guardrail", guardrail.name, {"stage": stage})
        try:
            if guardrail.agent is not None:
                verdict = await self.nested_run(
                    guardrail.agent,
                    value if stage == "input" else stringify_output(value),
                    max_turns=None,
                    context=scope.context.context,
                    config=scope.nested_config(),
                    emit=None,
                    parent_call_id=None,
                )
                usage.merge(verdict.usage)
                outcome = guardrail.judge(verdict.final_output)
            else:
                outcome = await guardrail.run_check(scope.context, node.agent, value)
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
