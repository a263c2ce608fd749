"""What the workflow, its activities and clients send each other: JSON, by Pydantic.

These shapes are recorded in Temporal's histories, so they are part of the
stored format: add fields with defaults, never rename one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..run.config import DEFAULT_MAX_TURNS

__all__ = [
    "RUN_WORKFLOW",
    "CommandRequest",
    "RunReply",
    "RunRequest",
    "RunStatusReply",
]

RUN_WORKFLOW = "ascent.run"
EXECUTE_ACTIVITY = "ascent.execute"
EVENTS_ACTIVITY = "ascent.events"
HISTORY_ACTIVITY = "ascent.session_history"
SAVE_ACTIVITY = "ascent.save_items"
RECORD_ACTIVITY = "ascent.record"
TURN_ACTIVITY = "ascent.session_turn"
DECIDE_SIGNAL = "ascent.decide"
STATUS_QUERY = "ascent.status"

# Histories longer than this continue as new, carrying the run's state.
DEFAULT_CONTINUE_AS_NEW_AFTER = 10_000


class RunRequest(BaseModel):
    """Start a run of ``agent`` on ``input``, or go on with ``state`` (a run that
    continued as new, or a saved :class:`~ascent.run.state.RunState` as JSON)."""

    agent: str
    input: str | list[dict[str, Any]] | None = None
    state: dict[str, Any] | None = None
    max_turns: int = DEFAULT_MAX_TURNS
    continue_as_new_after: int = DEFAULT_CONTINUE_AS_NEW_AFTER
    generation: int = 0  # how many times this run continued as new
    session_id: str | None = None  # the session whose conversation the run continues
    saved_items: int = 0  # with ``state``: how many of its items the session has
    record: bool = False  # a service keeps the run's record: report its pause and end
    # Fields added later, sent only when set, so the inputs of runs without them stay
    # as they were (see :meth:`dump`).
    previous_response_id: str | None = None  # the provider keeps the conversation so far
    conversation_id: str | None = None
    take_turns: bool = False  # wait for the session's earlier runs (a service's run)

    def dump(self) -> dict[str, Any]:
        """The request as the workflow's input: the later fields only when set."""
        unset = {name for name in _LATER_FIELDS if getattr(self, name) in (None, False)}
        return self.model_dump(mode="json", exclude=unset)


_LATER_FIELDS = ("previous_response_id", "conversation_id", "take_turns")


class RunReply(BaseModel):
    """A finished run: its final state, and when it finished (workflow time)."""

    state: dict[str, Any]
    finished_at: str
    generation: int = 0


class RunStatusReply(BaseModel):
    """Where a run stands, by query: ``waiting`` lists the calls it waits on a decision for."""

    status: str
    waiting: list[dict[str, Any]] = []
    paused_at: str | None = None
    generation: int = 0


class CommandRequest(BaseModel):
    """One command of a run's loop, for the activity that carries it out, with what
    the in-process interpreter's parts read of the run's state."""

    run_id: str
    starting_agent: str
    current_agent: str
    usage: dict[str, Any]
    server_tools: dict[str, Any]
    command: dict[str, Any]
    # For durable_sleep in a tool: the workflow's time when it scheduled the
    # activity, and the wake times (by sleep key) of sleeps the step began earlier.
    now: float | None = None
    wakes: dict[str, float] = {}
    # The agent the run's events last announced (agent_changed), so a model call
    # that starts another agent reports the handoff from it.
    announced: str | None = None


class SleepReply(BaseModel):
    """An activity's answer that is not a result: a tool of the step asked to sleep
    until ``until`` (workflow time, seconds since the epoch). The workflow sleeps on
    a timer, then runs the step again with ``wakes``, so the sleep returns at once."""

    ascent_sleep_until: float
    wakes: dict[str, float]

    @classmethod
    def found_in(cls, data: Any) -> SleepReply | None:
        if isinstance(data, dict) and "ascent_sleep_until" in data:
            return cls.model_validate(data)
        return None


class PauseRequest(BaseModel):
    """A run paused for approval: for the activity that tells the event log."""

    run_id: str
    agent: str
    requests: list[dict[str, Any]]


class SaveRequest(BaseModel):
    """Items of a run for its session, written at most once by ``write_id``."""

    session_id: str
    write_id: str
    items: list[dict[str, Any]]


class EndRequest(BaseModel):
    """A run's end, for the activity that writes it to the run's record."""

    run_id: str
    status: str  # completed or failed
    output: Any = None
    error: str | None = None
    usage: dict[str, Any] | None = None


class TurnRequest(BaseModel):
    """A run that waits for the runs before it on its session (a service's run)."""

    run_id: str
    session_id: str
