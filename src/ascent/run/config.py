"""Settings for one run that apply across its agents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..guardrails import InputGuardrail, OutputGuardrail
from ..models.base import Model, ModelSettings

__all__ = ["DEFAULT_MAX_TURNS", "RunConfig"]

DEFAULT_MAX_TURNS = 10


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
    :class:`~ascent.errors.RunTimeoutError`."""

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

    def __post_init__(self) -> None:
        for name in ("model_timeout", "run_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"RunConfig.{name} must be a positive number of seconds")
