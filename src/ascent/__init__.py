"""Ascent: a framework and runtime for AI agents.

One agent loop (a pure generator of commands), any model, offline by default.
"""

from typing import Any

from ._private.sdk_names import hint_for
from ._version import __version__
from .agent import (
    Agent,
    AgentTool,
    FunctionToolResult,
    OutputType,
    StopAtTools,
    ToolsToFinalOutput,
)
from .context import RunContext, ToolContext
from .errors import (
    AgentNotFound,
    AscentError,
    BranchError,
    GuardrailTripwireTriggered,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    MCPError,
    ModelAPIError,
    ModelBehaviorError,
    ModelError,
    OutputGuardrailTripwireTriggered,
    PatternError,
    ProviderCapabilityError,
    RunConflict,
    RunNotFound,
    RunTimeoutError,
    ToolError,
    ToolGuardrailTripwireTriggered,
    ToolTimeoutError,
    UserError,
)
from .guardrails import (
    GuardrailOutput,
    InputGuardrail,
    OutputGuardrail,
    ToolGuardrailDecision,
    input_guardrail,
    output_guardrail,
    tool_input_guardrail,
    tool_output_guardrail,
)
from .handoffs import Handoff, HandoffInputData, handoff
from .items import FunctionCall, FunctionCallOutput, Item, Message, RunUsage, Usage
from .lifecycle import AgentHooks, RunHooks
from .memory import InMemorySession, MemoryStore, Session, open_session
from .models import Model, ModelSettings
from .run import (
    ApprovalRequest,
    RunConfig,
    Runner,
    RunResult,
    RunResultStreaming,
    RunState,
    StreamEvent,
)
from .tools import (
    CodeInterpreterTool,
    ComputerTool,
    FileSearchTool,
    FunctionTool,
    HostedTool,
    WebSearchTool,
    function_tool,
)
from .tracing import custom_span, trace

__all__ = [
    "Agent",
    "AgentHooks",
    "AgentNotFound",
    "AgentTool",
    "ApprovalRequest",
    "AscentError",
    "BranchError",
    "CodeInterpreterTool",
    "ComputerTool",
    "FileSearchTool",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "FunctionToolResult",
    "GuardrailOutput",
    "GuardrailTripwireTriggered",
    "Handoff",
    "HandoffInputData",
    "HostedTool",
    "InMemorySession",
    "InputGuardrail",
    "InputGuardrailTripwireTriggered",
    "Item",
    "MCPError",
    "MaxTurnsExceeded",
    "MemoryStore",
    "Message",
    "Model",
    "ModelAPIError",
    "ModelBehaviorError",
    "ModelError",
    "ModelSettings",
    "OutputGuardrail",
    "OutputGuardrailTripwireTriggered",
    "OutputType",
    "PatternError",
    "ProviderCapabilityError",
    "RunConfig",
    "RunConflict",
    "RunContext",
    "RunHooks",
    "RunNotFound",
    "RunResult",
    "RunResultStreaming",
    "RunState",
    "RunTimeoutError",
    "RunUsage",
    "Runner",
    "Session",
    "StopAtTools",
    "StreamEvent",
    "ToolContext",
    "ToolError",
    "ToolGuardrailDecision",
    "ToolGuardrailTripwireTriggered",
    "ToolTimeoutError",
    "ToolsToFinalOutput",
    "Usage",
    "UserError",
    "WebSearchTool",
    "__version__",
    "custom_span",
    "function_tool",
    "handoff",
    "input_guardrail",
    "open_session",
    "output_guardrail",
    "tool_input_guardrail",
    "tool_output_guardrail",
    "trace",
]


def __getattr__(name: str) -> Any:
    """An OpenAI Agents SDK name that Ascent spells differently says what to write.

    ``from ascent import RunContextWrapper`` raises ImportError with the hint;
    ``ascent.RunContextWrapper`` raises AttributeError with it (so ``hasattr``
    and ``getattr(ascent, name, default)`` behave as for any missing name).
    """
    hint = hint_for(name)
    if hint is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}", name=name, obj=None)
    if _called_by_from_import():
        raise ImportError(hint, name=__name__)
    raise AttributeError(hint, name=name, obj=None)


def _called_by_from_import() -> bool:
    """Whether the caller is executing ``from ascent import name``: that form
    turns an AttributeError into a generic ImportError, dropping the hint."""
    import opcode
    import sys

    try:
        frame = sys._getframe(2)
        return frame.f_code.co_code[frame.f_lasti] == opcode.opmap["IMPORT_FROM"]
    except (ValueError, IndexError):  # no such frame
        return False
