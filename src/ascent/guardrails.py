"""Guardrails: checks that run beside the model and around tools.

- Input guardrails look at the first agent's input **while** the model call is in
  flight; when one trips, the call is cancelled and the run raises
  :class:`~ascent.errors.InputGuardrailTripwireTriggered`. One made with
  ``run_in_parallel=False`` runs **before** the call instead, so a tripped one
  means the model is never called (no tokens spent, no side effects).
- Output guardrails check the final output before it is returned.
- Tool guardrails check a tool's arguments before it runs and its output after:
  allow, reject the call with a message to the model, or raise.

A guardrail is a function (sync or async) or an agent used as a classifier
(``InputGuardrail.from_agent(classifier, trip_if=...)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ConfigDict

from .context import RunContext, ToolContext
from .items import FunctionCall, Item

if TYPE_CHECKING:
    from .agent import Agent

__all__ = [
    "GuardrailOutput",
    "GuardrailResult",
    "InputGuardrail",
    "OutputGuardrail",
    "ToolGuardrailData",
    "ToolGuardrailDecision",
    "ToolInputGuardrail",
    "ToolOutputGuardrail",
    "input_guardrail",
    "output_guardrail",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

GuardrailStage = Literal["input", "output", "tool_input", "tool_output"]


class GuardrailOutput(BaseModel):
    """What a guardrail function returns: whether it tripped, and any details."""

    model_config = ConfigDict(defer_build=True)

    tripwire_triggered: bool
    output_info: Any = None


class GuardrailResult(BaseModel):
    """A guardrail's verdict as recorded in a run (and in a durable run's history)."""

    model_config = ConfigDict(defer_build=True)

    name: str
    stage: GuardrailStage
    tripwire_triggered: bool
    output_info: Any = None


CheckResult = GuardrailOutput | bool
InputCheck = Callable[
    [RunContext[Any], "Agent[Any]", list[Item]], CheckResult | Awaitable[CheckResult]
]
OutputCheck = Callable[[RunContext[Any], "Agent[Any]", Any], CheckResult | Awaitable[CheckResult]]


@dataclass(kw_only=True)
class _Guardrail:
    """Shared by input and output guardrails: a function, or a classifier agent."""

    name: str
    check: Callable[..., Any] | None = None
    agent: Agent[Any] | None = None
    trip_if: Callable[[Any], bool] | None = None

    async def run_check(
        self, context: RunContext[Any], agent: Agent[Any], value: Any
    ) -> GuardrailOutput:
        """Run the function form (the runner runs the agent form itself)."""
        assert self.check is not None
        outcome = self.check(context, agent, value)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return as_output(outcome)

    def judge(self, classifier_output: Any) -> GuardrailOutput:
        """The verdict of the agent form, from the classifier's final output."""
        assert self.trip_if is not None
        return GuardrailOutput(
            tripwire_triggered=bool(self.trip_if(classifier_output)),
            output_info=classifier_output,
        )


@dataclass(kw_only=True)
class InputGuardrail(_Guardrail):
    """Checks the run's input beside the first model call, or before it when
    ``run_in_parallel`` is false."""

    run_in_parallel: bool = True

    @classmethod
    def from_agent(
        cls,
        agent: Agent[Any],
        *,
        trip_if: Callable[[Any], bool],
        name: str | None = None,
        run_in_parallel: bool = True,
    ) -> InputGuardrail:
        """A classifier agent reads the input; ``trip_if(its final output)`` decides."""
        return cls(
            name=name or agent.name, agent=agent, trip_if=trip_if, run_in_parallel=run_in_parallel
        )


@dataclass(kw_only=True)
class OutputGuardrail(_Guardrail):
    """Checks the final output before the run returns it."""

    @classmethod
    def from_agent(
        cls, agent: Agent[Any], *, trip_if: Callable[[Any], bool], name: str | None = None
    ) -> OutputGuardrail:
        """A classifier agent reads the output; ``trip_if(its final output)`` decides."""
        return cls(name=name or agent.name, agent=agent, trip_if=trip_if)


def as_output(outcome: Any) -> GuardrailOutput:
    if isinstance(outcome, GuardrailOutput):
        return outcome
    if isinstance(outcome, bool):
        return GuardrailOutput(tripwire_triggered=outcome)
    raise TypeError(
        f"a guardrail must return GuardrailOutput or bool, not {type(outcome).__name__}"
    )


# ----------------------------------------------------------------- decorators


@overload
def input_guardrail(func: InputCheck, /) -> InputGuardrail: ...
@overload
def input_guardrail(
    *, name: str | None = None, run_in_parallel: bool = True
) -> Callable[[InputCheck], InputGuardrail]: ...
def input_guardrail(
    func: InputCheck | None = None, /, *, name: str | None = None, run_in_parallel: bool = True
) -> InputGuardrail | Callable[[InputCheck], InputGuardrail]:
    """``@input_guardrail``: ``(context, agent, input_items) -> GuardrailOutput | bool``.

    ``run_in_parallel=False`` runs it before the model is called rather than beside it.
    """

    def build(check: InputCheck) -> InputGuardrail:
        return InputGuardrail(
            name=name or check.__name__, check=check, run_in_parallel=run_in_parallel
        )

    return build(func) if func is not None else build


@overload
def output_guardrail(func: OutputCheck, /) -> OutputGuardrail: ...
@overload
def output_guardrail(*, name: str | None = None) -> Callable[[OutputCheck], OutputGuardrail]: ...
def output_guardrail(
    func: OutputCheck | None = None, /, *, name: str | None = None
) -> OutputGuardrail | Callable[[OutputCheck], OutputGuardrail]:
    """``@output_guardrail``: ``(context, agent, final_output) -> GuardrailOutput | bool``."""

    def build(check: OutputCheck) -> OutputGuardrail:
        return OutputGuardrail(name=name or check.__name__, check=check)

    return build(func) if func is not None else build


# ------------------------------------------------------------- tool guardrails


@dataclass(kw_only=True)
class ToolGuardrailData:
    """What a tool guardrail sees: the call, and (after the tool ran) its output."""

    context: ToolContext[Any]
    agent: Agent[Any]
    call: FunctionCall
    output: str | None = None

    @property
    def arguments(self) -> str:
        return self.call.arguments


class ToolGuardrailDecision(BaseModel):
    """Allow the call, reject it with a message the model reads, or raise."""

    model_config = ConfigDict(defer_build=True)

    behavior: Literal["allow", "reject", "raise"] = "allow"
    message: str | None = None
    output_info: Any = None

    @classmethod
    def allow(cls, output_info: Any = None) -> ToolGuardrailDecision:
        return cls(behavior="allow", output_info=output_info)

    @classmethod
    def reject_content(cls, message: str, output_info: Any = None) -> ToolGuardrailDecision:
        """Do not run the tool (or withhold its output); the model reads ``message``."""
        return cls(behavior="reject", message=message, output_info=output_info)

    @classmethod
    def raise_exception(cls, output_info: Any = None) -> ToolGuardrailDecision:
        """Stop the run with :class:`~ascent.errors.ToolGuardrailTripwireTriggered`."""
        return cls(behavior="raise", output_info=output_info)


ToolCheck = Callable[[ToolGuardrailData], ToolGuardrailDecision | Awaitable[ToolGuardrailDecision]]


@dataclass(kw_only=True)
class _ToolGuardrail:
    name: str
    check: ToolCheck

    async def run(self, data: ToolGuardrailData) -> ToolGuardrailDecision:
        outcome = self.check(data)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if not isinstance(outcome, ToolGuardrailDecision):
            raise TypeError(f"tool guardrail {self.name!r} must return ToolGuardrailDecision")
        return outcome


@dataclass(kw_only=True)
class ToolInputGuardrail(_ToolGuardrail):
    """Checks a tool's arguments before it runs."""


@dataclass(kw_only=True)
class ToolOutputGuardrail(_ToolGuardrail):
    """Checks a tool's output before the model sees it."""


@overload
def tool_input_guardrail(func: ToolCheck, /) -> ToolInputGuardrail: ...
@overload
def tool_input_guardrail(
    *, name: str | None = None
) -> Callable[[ToolCheck], ToolInputGuardrail]: ...
def tool_input_guardrail(
    func: ToolCheck | None = None, /, *, name: str | None = None
) -> ToolInputGuardrail | Callable[[ToolCheck], ToolInputGuardrail]:
    """``@tool_input_guardrail``: ``(data: ToolGuardrailData) -> ToolGuardrailDecision``."""

    def build(check: ToolCheck) -> ToolInputGuardrail:
        return ToolInputGuardrail(
            name=name or str(getattr(check, "__name__", "tool_guardrail")), check=check
        )

    return build(func) if func is not None else build


@overload
def tool_output_guardrail(func: ToolCheck, /) -> ToolOutputGuardrail: ...
@overload
def tool_output_guardrail(
    *, name: str | None = None
) -> Callable[[ToolCheck], ToolOutputGuardrail]: ...
def tool_output_guardrail(
    func: ToolCheck | None = None, /, *, name: str | None = None
) -> ToolOutputGuardrail | Callable[[ToolCheck], ToolOutputGuardrail]:
    """``@tool_output_guardrail``: ``(data: ToolGuardrailData) -> ToolGuardrailDecision``."""

    def build(check: ToolCheck) -> ToolOutputGuardrail:
        return ToolOutputGuardrail(
            name=name or str(getattr(check, "__name__", "tool_guardrail")), check=check
        )

    return build(func) if func is not None else build
