"""What crosses the wire: request bodies and responses of the service's API.

Runs are returned as :class:`ascent.durable.RunRecord` itself; everything else
the API adds is here, so the OpenAPI schema describes exactly what is sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..items import Item
from ..tracing import SpanRecord, TraceRecord

__all__ = [
    "AgentInfo",
    "AgentList",
    "ApprovalDecisionIn",
    "ApprovalsRequest",
    "ErrorDetail",
    "ErrorResponse",
    "Health",
    "RunRequest",
    "SessionItems",
    "ToolInfo",
    "TraceResponse",
]

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Strict):
    """Start a run of an agent.

    ``input`` is a user message, or a list of conversation items. With
    ``session_id`` the run continues that session's conversation and adds its
    turn to it. ``stream`` (or ``Accept: text/event-stream``) answers with the
    run's events as server-sent events; otherwise ``wait`` holds the request
    until the run finishes or pauses for approval (bounded by the service's wait
    timeout), and ``"wait": false`` answers at once with the queued run.
    """

    input: str | list[Item] = Field(min_length=1)
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    stream: bool = False
    wait: bool = True


class ApprovalDecisionIn(_Strict):
    """The decision on one pending tool call; ``reason`` reaches the model on rejection."""

    call_id: str = Field(min_length=1, max_length=200)
    approved: bool
    reason: str | None = Field(default=None, max_length=2000)


class ApprovalsRequest(_Strict):
    """Decisions on some or all of a run's pending tool calls; the run resumes once all are in."""

    decisions: list[ApprovalDecisionIn] = Field(min_length=1, max_length=100)
    wait: bool = True


class ToolInfo(BaseModel):
    name: str
    description: str | None = None


class AgentInfo(BaseModel):
    """An agent the service runs: what it does, its tools, whom it hands off to."""

    name: str
    description: str | None = None
    tools: list[ToolInfo] = Field(default_factory=list)
    handoffs: list[str] = Field(default_factory=list)
    output_type: str | None = None


class AgentList(BaseModel):
    agents: list[AgentInfo]


class SessionItems(BaseModel):
    session_id: str
    items: list[Item]


class TraceResponse(BaseModel):
    """A trace and its spans (by start time), as the local trace store holds them."""

    trace: TraceRecord
    spans: list[SpanRecord]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


class ErrorDetail(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer has this body."""

    error: ErrorDetail
