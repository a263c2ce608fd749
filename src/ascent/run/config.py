"""Settings for one run that apply across its agents."""

from __future__ import annotations

from dataclasses import dataclass

from ..models.base import Model, ModelSettings

__all__ = ["DEFAULT_MAX_TURNS", "RunConfig"]

DEFAULT_MAX_TURNS = 10


@dataclass(kw_only=True, frozen=True)
class RunConfig:
    """``model`` overrides every agent's model (as ``--model`` does on the command
    line); ``model_settings`` is laid over each agent's settings;
    ``max_output_retries`` bounds how often invalid structured output is sent
    back to the model for repair."""

    model: str | Model | None = None
    model_settings: ModelSettings | None = None
    max_output_retries: int = 2
    workflow_name: str = "Agent run"
