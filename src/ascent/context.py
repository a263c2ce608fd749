"""The run context: the user's own object plus what Ascent knows about the run.

The user's ``context`` is never sent to a model; it is how tools, instructions
and hooks reach the application's state (a database handle, the current user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

from .items import RunUsage

__all__ = ["RunContext", "TContext", "ToolContext"]

TContext = TypeVar("TContext", default=Any)


@dataclass(kw_only=True)
class RunContext(Generic[TContext]):
    """Passed to dynamic instructions, tools that ask for it, hooks and callbacks."""

    context: TContext
    run_id: str = ""
    usage: RunUsage = field(default_factory=RunUsage)
    agent_name: str = ""


@dataclass(kw_only=True)
class ToolContext(RunContext[TContext]):
    """The run context as a tool sees it: which call it is serving.

    ``idempotency_key`` is stable across retries of the same call (run id + call
    id), so a tool with side effects can make them happen once.
    """

    tool_name: str
    call_id: str
    arguments: str = "{}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.call_id}"
