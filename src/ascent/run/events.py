"""Events a streamed run yields, in the order things happen.

Deltas arrive as the model produces them; item events when an item is
complete; ``agent_changed`` when another agent takes over. Events of an agent
used as a tool carry that inner agent's name and the ``parent_call_id`` of the
tool call that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..items import Item
from .commands import ApprovalRequest

__all__ = [
    "AgentChangedEvent",
    "ApprovalRequiredEvent",
    "ItemEvent",
    "ItemEventName",
    "ReasoningDeltaEvent",
    "ResponseDiscardedEvent",
    "StreamEvent",
    "TextDeltaEvent",
    "ToolCallArgumentsDeltaEvent",
]

ItemEventName = Literal[
    "message",
    "tool_call",
    "tool_output",
    "handoff_call",
    "handoff",
    "reasoning",
    "hosted_tool_call",
]


@dataclass(slots=True, kw_only=True)
class TextDeltaEvent:
    agent: str
    delta: str
    item_id: str | None = None
    parent_call_id: str | None = None
    type: Literal["text_delta"] = "text_delta"


@dataclass(slots=True, kw_only=True)
class ToolCallArgumentsDeltaEvent:
    agent: str
    call_id: str
    name: str
    delta: str
    parent_call_id: str | None = None
    type: Literal["tool_call_arguments_delta"] = "tool_call_arguments_delta"


@dataclass(slots=True, kw_only=True)
class ReasoningDeltaEvent:
    agent: str
    delta: str
    item_id: str | None = None
    parent_call_id: str | None = None
    type: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(slots=True, kw_only=True)
class ItemEvent:
    """A complete item: a message, a tool call or output, a handoff, reasoning."""

    agent: str
    name: ItemEventName
    item: Item
    parent_call_id: str | None = None
    type: Literal["item"] = "item"


@dataclass(slots=True, kw_only=True)
class AgentChangedEvent:
    agent: str
    previous: str | None = None
    parent_call_id: str | None = None
    type: Literal["agent_changed"] = "agent_changed"


@dataclass(slots=True, kw_only=True)
class ApprovalRequiredEvent:
    """The run paused: these tool calls wait for a human's decision."""

    agent: str
    requests: list[ApprovalRequest]
    parent_call_id: str | None = None
    type: Literal["approval_required"] = "approval_required"


@dataclass(slots=True, kw_only=True)
class ResponseDiscardedEvent:
    """What ``agent``'s model streamed so far is void: an input guardrail tripped and
    cancelled the call (the stream then ends with the guardrail's exception), the
    model's stream broke and the call is made again (the answer streams anew), or
    a recovered durable run makes a step again."""

    agent: str
    reason: str
    parent_call_id: str | None = None
    type: Literal["response_discarded"] = "response_discarded"


StreamEvent = (
    TextDeltaEvent
    | ToolCallArgumentsDeltaEvent
    | ReasoningDeltaEvent
    | ItemEvent
    | AgentChangedEvent
    | ApprovalRequiredEvent
    | ResponseDiscardedEvent
)
