"""Durable runs: agent runs that survive crashes, restarts and deploys.

:class:`DurableEngine` runs the same agent loop as :class:`~ascent.Runner`, as a
DBOS workflow: every model call, tool turn and handoff is a step whose result
is recorded in the database, so a run that a crash interrupted resumes after
its last finished step, in this process or on another replica. Approvals are
durable waits; runs can be scheduled with cron. SQLite is the default; on
PostgreSQL many replicas share the work.
"""

from ..errors import AgentNotFound, RunConflict, RunNotFound
from .engine import (
    APP_VERSION_ENV,
    DURABILITY_ENV,
    EXECUTOR_ID_ENV,
    Durability,
    DurableEngine,
    RunStart,
    run_id_for_key,
)
from .records import MAX_EVENT_SEQ, TERMINAL_STATUSES, RunEvent, RunRecord, RunStatus, Schedule
from .tools import durable_sleep, emit_event, idempotency_key

__all__ = [
    "APP_VERSION_ENV",
    "DURABILITY_ENV",
    "EXECUTOR_ID_ENV",
    "MAX_EVENT_SEQ",
    "TERMINAL_STATUSES",
    "AgentNotFound",
    "Durability",
    "DurableEngine",
    "RunConflict",
    "RunEvent",
    "RunNotFound",
    "RunRecord",
    "RunStart",
    "RunStatus",
    "Schedule",
    "durable_sleep",
    "emit_event",
    "idempotency_key",
    "run_id_for_key",
]
