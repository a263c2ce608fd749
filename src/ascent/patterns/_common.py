"""What every pattern shares: how it runs one agent, its one trace, text between agents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..agent import Agent
from ..errors import PatternError
from ..run import RunConfig, Runner, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ..tools import stringify_output
from ..tracing import Span, current_trace, custom_span, trace

__all__ = ["RunOptions", "as_text", "step", "workflow"]


@dataclass(kw_only=True, frozen=True)
class RunOptions:
    """What every agent run of a pattern gets: the user's context, the turn budget
    and the run configuration (a model for every agent, tracing settings...)."""

    context: Any = None
    max_turns: int = DEFAULT_MAX_TURNS
    run_config: RunConfig | None = None

    async def run(self, agent: Agent[Any], input: str | list[Any]) -> RunResult:
        """One agent run to its final output. A run that pauses for a person's
        approval cannot go on inside a pattern, so it is an error here."""
        result = await Runner.run(
            agent,
            input,
            context=self.context,
            max_turns=self.max_turns,
            run_config=self.run_config,
        )
        if result.is_interrupted:
            names = ", ".join(request.tool_name for request in result.interruptions)
            raise PatternError(
                f"agent {agent.name!r} paused for approval of {names}; patterns run "
                "to completion, so run that agent on its own to approve its calls"
            )
        return result


def as_text(output: Any) -> str:
    """An agent's output as the next agent's input: text stays text, models become JSON."""
    return stringify_output(output)


@contextmanager
def workflow(name: str, options: RunOptions, *, kind: str, **attributes: Any) -> Iterator[Span]:
    """One trace for a whole pattern: its runs nest under a span named after it.

    Inside a trace the caller already opened (``with trace(...)``), the pattern
    is a span of that trace instead, so patterns compose. ``kind`` (e.g.
    ``"chain"``) is recorded as the span's ``pattern`` attribute.
    """
    config = options.run_config or RunConfig()
    active = current_trace()
    if config.tracing_disabled or (active is not None and active.ended_at is None):
        with custom_span(name, pattern=kind, **attributes) as span:
            yield span
        return
    with (
        trace(
            name,
            trace_id=config.trace_id,
            group_id=config.group_id,
            metadata={"pattern": kind, **config.trace_metadata},
        ),
        custom_span(name, pattern=kind, **attributes) as span,
    ):
        yield span


def step(name: str, **attributes: Any) -> Span:
    """A span for one step of a pattern (a chain link, a branch, a round)."""
    return custom_span(name, **attributes)
