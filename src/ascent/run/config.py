"""Settings for one run that apply across its agents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal

from ..agent import Agent
from ..context import TContext
from ..errors import UserError
from ..guardrails import InputGuardrail, OutputGuardrail
from ..handoffs import HandoffInputFilter
from ..items import Item
from ..models.base import Model, ModelSettings

__all__ = [
    "DEFAULT_MAX_TURNS",
    "CallModelData",
    "CallModelInputFilter",
    "ModelInputData",
    "RunConfig",
    "UnknownToolBehavior",
]

DEFAULT_MAX_TURNS = 10

UnknownToolBehavior = Literal["error_to_model", "raise"]


@dataclass(kw_only=True)
class ModelInputData:
    """What one model call sends: the instructions and the conversation's items."""

    instructions: str | None
    input: list[Item]


@dataclass(kw_only=True, frozen=True)
class CallModelData(Generic[TContext]):
    """What a ``call_model_input_filter`` receives: the input of the call about to
    be made, the agent making it and the run's context object."""

    model_data: ModelInputData
    agent: Agent[TContext]
    context: TContext | None


CallModelInputFilter = Callable[[CallModelData[Any]], ModelInputData | Awaitable[ModelInputData]]


@dataclass(kw_only=True, frozen=True)
class RunConfig:
    """``model`` overrides every agent's model (as ``--model`` does on the command
    line); ``model_settings`` is laid over each agent's settings;
    ``max_output_retries`` bounds how often invalid structured output is sent
    back to the model for repair. ``input_guardrails`` / ``output_guardrails``
    apply beside the agents' own. Tracing: ``workflow_name`` names the trace,
    ``tracing_disabled`` turns it off for this run, and
    ``trace_include_sensitive_data=False`` keeps prompts, outputs and tool
    payloads out of it. Time limits: ``model_timeout`` bounds each attempt of a
    model call in seconds, for agents whose settings give no ``timeout``;
    ``run_timeout`` bounds the seconds a run may spend working (waiting for a
    person's approval does not count) before it fails with
    :class:`~ascent.errors.RunTimeoutError`.

    ``handoff_input_filter`` rewrites what the next agent sees on a handoff that
    has no ``input_filter`` of its own. ``call_model_input_filter`` edits what the
    model is sent on each call (the run's items stay as they are); it runs as
    part of the call, so a durable run records its effect with the response.
    ``on_unknown_tool`` decides what a call to a tool the agent does not offer
    does: ``"error_to_model"`` answers it with an error the model can act on,
    ``"raise"`` fails the run with :class:`~ascent.errors.ModelBehaviorError`."""

    model: str | Model | None = None
    model_settings: ModelSettings | None = None
    max_output_retries: int = 2
    input_guardrails: list[InputGuardrail] = field(default_factory=list)
    output_guardrails: list[OutputGuardrail] = field(default_factory=list)
    workflow_name: str = "Agent run"
    tracing_disabled: bool = False
    trace_include_sensitive_data: bool = True
    trace_id: str | None = None
    group_id: str | None = None
    trace_metadata: dict[str, Any] = field(default_factory=dict)
    model_timeout: float | None = None
    run_timeout: float | None = None
    handoff_input_filter: HandoffInputFilter | None = None
    call_model_input_filter: CallModelInputFilter | None = None
    on_unknown_tool: UnknownToolBehavior = "error_to_model"

    def __post_init__(self) -> None:
        if self.on_unknown_tool not in ("error_to_model", "raise"):
            raise UserError(
                "RunConfig.on_unknown_tool must be 'error_to_model' or 'raise', "
                f"not {self.on_unknown_tool!r}"
            )
        for name in ("model_timeout", "run_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"RunConfig.{name} must be a positive number of seconds")
