"""Settings for one run that apply across its agents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    payloads out of it."""

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
