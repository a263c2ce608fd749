"""The event catalogue: every event type Ascent publishes or reads, its topic and data.

Types are versioned by their last part (``.v1``): a change that would break a
consumer makes a new type, published beside the old one for a while, never a
changed ``v1``. Every data body carries ``run_id``, ``tenant`` and ``agent``
(also as the CloudEvent's ``runid``, ``tenant`` and ``agent`` attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ..durable.outbox import (
    AGENT_EVENTS_TOPIC,
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    DECISIONS_TOPIC,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_HANDOFF,
    RUN_QUEUED,
    RUN_STARTED,
    RUNS_TOPIC,
)

__all__ = [
    "AGENT_EVENTS_TOPIC",
    "APPROVALS_TOPIC",
    "APPROVAL_DECIDED",
    "APPROVAL_REQUIRED",
    "CATALOGUE",
    "DEAD_LETTER",
    "DEAD_LETTER_TOPIC",
    "DECISIONS_TOPIC",
    "RUNS_TOPIC",
    "RUN_CANCELLED",
    "RUN_COMPLETED",
    "RUN_FAILED",
    "RUN_HANDOFF",
    "RUN_QUEUED",
    "RUN_STARTED",
    "AgentEventData",
    "ApprovalDecidedData",
    "ApprovalRequiredData",
    "DeadLetterData",
    "Decision",
    "EventType",
    "HandoffData",
    "RunCompletedData",
    "RunData",
    "RunFailedData",
    "RunQueuedData",
]

DEAD_LETTER = "ascent.event.dead_lettered.v1"
DEAD_LETTER_TOPIC = "ascent.dead-letter"


class RunData(BaseModel):
    """What every run event's data holds."""

    run_id: str
    tenant: str | None = None
    agent: str


class RunQueuedData(RunData):
    """``ascent.run.queued.v1`` / ``ascent.run.started.v1``."""

    session_id: str | None = None


class RunCompletedData(RunData):
    output: Any = None


class RunFailedData(RunData):
    error: str | None = None


class HandoffData(RunData):
    from_agent: str | None = None
    to_agent: str | None = None


class ApprovalRequiredData(RunData):
    """HumanReviewRequired: one tool call waits for a human (one event per call)."""

    call_id: str
    tool: str
    arguments: Any = None
    requested_by: str | None = Field(default=None, description="The agent that called the tool.")


class Decision(BaseModel):
    """A decision on one tool call: approved, or rejected (with a reason for the model)."""

    call_id: str
    approved: bool
    reason: str | None = None


class ApprovalDecidedData(BaseModel):
    """HumanDecisionMade. Published by Ascent when a decision is taken (with the run's
    ``tenant`` and ``agent``); read from ``ascent.decisions``, where a reviewer needs
    only ``run_id`` and ``decisions``."""

    run_id: str
    tenant: str | None = None
    agent: str | None = None
    decisions: list[Decision] = Field(min_length=1)


class AgentEventData(BaseModel):
    """An agent's own event (a tool emits it): its ``data`` is the tool's."""

    run_id: str | None = None
    tenant: str | None = None
    agent: str | None = None
    data: Any = None


class DeadLetterData(BaseModel):
    """A message that could not become a run or a decision, and why."""

    reason: str
    topic: str
    subscription: str | None = None
    attempts: int
    message: str = Field(description="The message as received (cut at 4 KiB), as text.")


DataModel = type[BaseModel]


@dataclass(frozen=True, kw_only=True)
class EventType:
    """One entry of the catalogue: a type, its topic, the model of its data."""

    type: str
    topic: str
    data: DataModel
    about: str


CATALOGUE: tuple[EventType, ...] = (
    EventType(
        type=RUN_QUEUED,
        topic=RUNS_TOPIC,
        data=RunQueuedData,
        about="a run was accepted and waits for a replica (or for its session's turn)",
    ),
    EventType(type=RUN_STARTED, topic=RUNS_TOPIC, data=RunQueuedData, about="a run began"),
    EventType(
        type=RUN_COMPLETED,
        topic=RUNS_TOPIC,
        data=RunCompletedData,
        about="a run ended with its final output",
    ),
    EventType(type=RUN_FAILED, topic=RUNS_TOPIC, data=RunFailedData, about="a run failed"),
    EventType(type=RUN_CANCELLED, topic=RUNS_TOPIC, data=RunData, about="a run was cancelled"),
    EventType(
        type=RUN_HANDOFF,
        topic=RUNS_TOPIC,
        data=HandoffData,
        about="the run's current agent handed off to another",
    ),
    EventType(
        type=APPROVAL_REQUIRED,
        topic=APPROVALS_TOPIC,
        data=ApprovalRequiredData,
        about="HumanReviewRequired: a tool call waits for a human's decision",
    ),
    EventType(
        type=APPROVAL_DECIDED,
        topic=APPROVALS_TOPIC,
        data=ApprovalDecidedData,
        about="HumanDecisionMade: a decision was taken (published); "
        f"on {DECISIONS_TOPIC} it resumes the run it names (read)",
    ),
    EventType(
        type=DEAD_LETTER,
        topic=DEAD_LETTER_TOPIC,
        data=DeadLetterData,
        about="a message could not become a run or a decision",
    ),
)
