"""What crosses the wire: request bodies and responses of the service's API.

Runs are returned as :class:`ascent.durable.RunRecord` itself; everything else
the API adds is here, so the OpenAPI schema describes exactly what is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from ..durable import Durability, RunRecord
from ..items import Item, Usage
from ..memory import Memory
from ..tracing import SpanRecord, TraceRecord
from ..tracing.store import TraceSummary

__all__ = [
    "AgentInfo",
    "AgentList",
    "ApprovalDecisionIn",
    "ApprovalsRequest",
    "ErrorDetail",
    "ErrorResponse",
    "Health",
    "MemoryList",
    "RunList",
    "RunRequest",
    "SessionInfo",
    "SessionItems",
    "SessionList",
    "ToolInfo",
    "TraceList",
    "TraceResponse",
    "UsageReport",
]

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"
# Run ids, agent names, trace ids, call ids: up to 200 characters, no control
# characters (PostgreSQL cannot store a NUL in text; none belongs in an id).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,200}$"


class _Strict(BaseModel):
    """A request body: no unknown fields, and text that is valid Unicode.

    JSON can escape half of a surrogate pair (``"\\ud800"``), which Python reads
    as a string no database or encoder takes: such a body is refused here.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        where = _lone_surrogate(data)
        if where is not None:
            raise PydanticCustomError(
                "lone_surrogate",
                "{where}: text with a lone surrogate (U+D800 to U+DFFF) is not valid Unicode",
                {"where": where},
            )
        return data


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where in ``value`` (a parsed JSON value) a string holds a lone surrogate, if anywhere."""
    if isinstance(value, str):
        return None if _encodable(value) else where or "the body"
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        name = key if isinstance(key, int) or _encodable(key) else ascii(key)
        path = f"{where}.{name}" if where else str(name)
        if isinstance(key, str) and not _encodable(key):
            return path
        found = _lone_surrogate(child, path)
        if found is not None:
            return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _input_kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "items"


# A message, or conversation items: neither may be empty (the schema says so too:
# minLength and minItems), since a run needs something to answer.
RunInput = Annotated[
    Annotated[str, Field(min_length=1), Tag("text")]
    | Annotated[list[Item], Field(min_length=1), Tag("items")],
    Discriminator(_input_kind),
]


class RunRequest(_Strict):
    """Start a run of an agent.

    ``input`` is a user message, or a list of conversation items (neither empty). With
    ``session_id`` the run continues that session's conversation and adds its
    turn to it. ``stream`` (or ``Accept: text/event-stream``) answers with the
    run's events as server-sent events; otherwise ``wait`` holds the request
    until the run finishes or pauses for approval (bounded by the service's wait
    timeout), and ``"wait": false`` answers at once with the queued run.
    ``durability`` (``"steps"``, ``"turns"`` or ``"run"``) overrides the service's
    for this run: what a crash may repeat (see the durable runs' docs).
    ``previous_response_id`` or ``conversation_id`` (not both) leave the
    conversation on the model provider's side (the OpenAI Responses API): only
    the new items are sent; a provider that keeps no conversation answers 400.
    """

    input: RunInput
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    stream: bool = False
    wait: bool = True
    durability: Durability | None = None
    previous_response_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Continue from this Responses API response: only the new input is sent.",
    )
    conversation_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Run in this Responses API conversation: only the new input is sent.",
    )


class ApprovalDecisionIn(_Strict):
    """The decision on one pending tool call; ``reason`` reaches the model on rejection."""

    call_id: str = Field(pattern=ID_PATTERN)
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


class RunList(BaseModel):
    """A page of runs, newest first; ``next`` is the ``before`` of the next page (null: the end)."""

    runs: list[RunRecord]
    next: str | None = None


class SessionInfo(BaseModel):
    """A session at a glance: its id (as its tenant named it), last write, number of items."""

    id: str
    updated_at: float = Field(description="When it was last written (epoch seconds).")
    items: int
    created_at: float = Field(description="When it was first written (epoch seconds).")


class SessionList(BaseModel):
    """A page of sessions, most recently written first; ``next`` as for runs."""

    sessions: list[SessionInfo]
    next: str | None = None


class TraceList(BaseModel):
    """A page of traces, newest first; ``next`` as for runs."""

    traces: list[TraceSummary]
    next: str | None = None


class UsageReport(BaseModel):
    """Tokens and requests of the caller's runs, in all, per agent and per model."""

    total: Usage
    by_agent: dict[str, Usage]
    by_model: dict[str, Usage]
    runs: int = Field(description="How many runs were counted.")
    since: float | None = Field(
        default=None, description="Only runs created at or after this time (epoch seconds)."
    )


class MemoryList(BaseModel):
    """Memories of one scope: the best matches of a search, or the latest."""

    memories: list[Memory]


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
