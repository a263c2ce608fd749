"""What a Temporal worker serves: agents, the run's settings, and where events go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..lifecycle import RunHooks
from ..memory.session import Session
from ..run.config import RunConfig
from ..run.registry import AgentRegistry, Agents
from .events import EventLog, RunRecords

__all__ = ["TemporalApp", "served_app"]


@dataclass(kw_only=True)
class TemporalApp:
    """The agents a worker runs (by name), with the :class:`RunConfig` of their
    runs, the ``context`` their tools and hooks get (as with ``Runner.run``),
    the ``hooks`` called in activities and the :class:`EventLog` their events go to.

    Activities are retried ``activity_attempts`` times at most (a provider's
    failure, a crash of the worker); errors Ascent raises on purpose are not
    retried. ``default_timeout`` bounds, in seconds, each attempt of a command
    whose agent or tools give no time limit of their own. A command's activity
    beats while it runs: one that misses ``heartbeat_timeout`` seconds of beats
    (its worker died) is tried again on another worker. ``sessions`` opens a
    session by its id (for example ``ascent.memory.open_session``), for runs
    started with a ``session_id``. ``records`` keeps the records of runs a service
    started (see :class:`~ascent.temporal.DatabaseRunLog`, which is both the
    event log and the records of the project database).
    """

    agents: Agents
    config: RunConfig = field(default_factory=RunConfig)
    context: Any = None
    hooks: RunHooks[Any] | None = None
    events: EventLog | None = None
    activity_attempts: int = 5
    default_timeout: float = 600.0
    heartbeat_timeout: float = 30.0
    sessions: Callable[[str], Session] | None = None
    records: RunRecords | None = None

    def __post_init__(self) -> None:
        self.registry = AgentRegistry(self.agents)
        if self.activity_attempts < 1:
            raise UserError("TemporalApp.activity_attempts must be at least 1")
        for name in ("default_timeout", "heartbeat_timeout"):
            if not getattr(self, name) > 0:
                raise UserError(f"TemporalApp.{name} must be a positive number of seconds")

    def session(self, session_id: str) -> Session:
        """The session ``session_id`` (a :class:`UserError` if the app opens none)."""
        if self.sessions is None:
            raise UserError(
                "this run continues a session, but the worker's TemporalApp opens none: "
                "give it sessions= (such as ascent.memory.open_session)"
            )
        return self.sessions(session_id)

    @classmethod
    def of(cls, value: object) -> TemporalApp:
        """``value`` as an app: an app already, or agents (one, a list, a map)."""
        if isinstance(value, TemporalApp):
            return value
        try:
            return cls(agents=value)  # type: ignore[arg-type]
        except UserError:
            raise
        except Exception as exc:  # pragma: no cover - AgentRegistry says what it expects
            raise UserError(
                f"expected a TemporalApp or agents, got {type(value).__name__}"
            ) from exc


# The app each task queue of this process serves. Workflows read it by their task
# queue: the sandbox passes this module through, so they see the worker's app.
_served: dict[str, TemporalApp] = {}


def serve_app(task_queue: str, app: TemporalApp) -> None:
    current = _served.get(task_queue)
    if current is not None and current is not app:
        raise UserError(f"this process already serves another app on task queue {task_queue!r}")
    _served[task_queue] = app


def release_app(task_queue: str, app: TemporalApp) -> None:
    if _served.get(task_queue) is app:
        del _served[task_queue]


def served_app(task_queue: str) -> TemporalApp:
    """The app this process serves on ``task_queue``."""
    app = _served.get(task_queue)
    if app is None:
        raise UserError(f"no Ascent app is served on task queue {task_queue!r} in this process")
    return app
