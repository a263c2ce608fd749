"""Running agents: the loop (a generator of commands), its state, and the in-process Runner."""

from .commands import ApprovalDecision, ApprovalRequest
from .config import CallModelData, ModelInputData, RunConfig
from .events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ItemEvent,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallArgumentsDeltaEvent,
)
from .result import RunResult, RunResultStreaming
from .runner import Runner
from .state import RunState

__all__ = [
    "AgentChangedEvent",
    "ApprovalDecision",
    "ApprovalRequest",
    "ApprovalRequiredEvent",
    "CallModelData",
    "ItemEvent",
    "ModelInputData",
    "ReasoningDeltaEvent",
    "RunConfig",
    "RunResult",
    "RunResultStreaming",
    "RunState",
    "Runner",
    "StreamEvent",
    "TextDeltaEvent",
    "ToolCallArgumentsDeltaEvent",
]
