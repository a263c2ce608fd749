"""Ascent: a framework and runtime for AI agents.

One agent loop (a pure generator of commands), any model, offline by default.
"""

from ._version import __version__
from .agent import Agent, AgentTool, StopAtTools, ToolsToFinalOutput
from .context import RunContext, ToolContext
from .errors import (
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
    RunInterrupted,
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
    "PatternError",
    "ProviderCapabilityError",
    "RunConfig",
    "RunContext",
    "RunHooks",
    "RunInterrupted",
    "RunResult",
    "RunResultStreaming",
    "RunState",
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
