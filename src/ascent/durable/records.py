"""What a durable run looks like from outside: its record, its events, its errors.

These cross the wire (the HTTP service returns them as JSON) and are stored in
the project database, so they are Pydantic models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..items import RunUsage
from ..run.commands import ApprovalRequest

__all__ = [
    "MAX_EVENT_SEQ",
    "TERMINAL_STATUSES",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "Schedule",
    "run_trace_id",
]

RunStatus = Literal["queued", "running", "awaiting_approval", "completed", "failed", "cancelled"]

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

# The largest ``seq`` an event log holds: the column is a 32-bit INTEGER (PostgreSQL's).
MAX_EVENT_SEQ = 2**31 - 1


class RunRecord(BaseModel):
    """Where a durable run stands: what a client polls, and what the service returns."""

    id: str
    agent: str
    tenant: str | None = None
    session_id: str | None = None
    status: RunStatus
    output: Any | None = None
    error: str | None = None
    pending_approvals: list[ApprovalRequest] = Field(default_factory=list)
    usage: RunUsage = Field(default_factory=RunUsage)
    trace_id: str | None = None
    schedule: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def done(self) -> bool:
        """True once the run can change no more (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES


class RunEvent(BaseModel):
    """One entry of a run's append-only event log.

    ``seq`` counts 1, 2, 3... per run without gaps, so a client that lost its
    connection asks for the events after the last ``seq`` it saw (SSE's
    ``Last-Event-ID``) and misses nothing.
    """

    run_id: str
    seq: int
    type: str
    data: dict[str, Any]


class Schedule(BaseModel):
    """A persisted cron schedule that starts a durable run of ``agent`` each time it fires."""

    name: str
    agent: str
    input: str | list[dict[str, Any]]
    cron: str
    tenant: str | None = None
    session_id: str | None = None
    status: str = "ACTIVE"


def run_trace_id(run_id: str) -> str:
    """A served run's trace id follows from its id: any replica (or worker) finds it,
    whatever engine runs it."""
    return f"trace_{run_id}"
