"""How long each command's activity may take, and how often it is tried.

Time limits come from the agents: a model call's from its model settings'
``timeout`` (or the run's ``model_timeout``), a tool turn's from its tools'
``timeout``. A command with none takes the app's ``default_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from ..run.commands import CallModel, Command, RunGuardrails, RunTools
from ..run.config import RunConfig
from ..run.graph import AgentGraph
from .app import TemporalApp

__all__ = ["ActivityOptions", "activity_options"]

# A model call's time limit bounds one attempt; the provider's client retries
# within the activity, so the activity's limit covers a few attempts.
_MODEL_ATTEMPTS = 3
_MARGIN = 30.0  # seconds for what surrounds the call itself


@dataclass(frozen=True, slots=True)
class ActivityOptions:
    start_to_close: timedelta
    heartbeat: timedelta
    retry: RetryPolicy


def activity_options(
    command: Command, graph: AgentGraph, config: RunConfig, app: TemporalApp
) -> ActivityOptions:
    seconds = app.default_timeout
    model_call = command if isinstance(command, CallModel) else None
    if isinstance(command, RunGuardrails) and command.alongside is not None:
        model_call = command.alongside
    if model_call is not None:
        agent = graph[model_call.agent].agent
        settings = agent.model_settings.merged(config.model_settings)
        limit = settings.timeout or config.model_timeout
        if limit is not None:
            seconds = limit * _MODEL_ATTEMPTS + _MARGIN
            if isinstance(command, RunGuardrails):  # guardrails beside the call
                seconds = max(seconds, app.default_timeout)
    elif isinstance(command, RunTools):
        tools = graph[command.agent].function_tools
        limits = [tools[c.name].timeout if c.name in tools else None for c in command.calls]
        if limits and all(limit is not None for limit in limits):
            seconds = max(limit for limit in limits if limit is not None) + _MARGIN
    return ActivityOptions(
        start_to_close=timedelta(seconds=seconds),
        heartbeat=timedelta(seconds=min(app.heartbeat_timeout, seconds)),
        retry=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=60),
            maximum_attempts=app.activity_attempts,
        ),
    )
