"""Ascent: a framework and runtime for AI agents.

One agent loop (a pure generator of commands), any model, offline by default.
"""

from .agent import Agent, AgentTool, StopAtTools, ToolsToFinalOutput
from .context import RunContext, ToolContext
from .errors import (
    AscentError,
    MaxTurnsExceeded,
    ModelAPIError,
    ModelBehaviorError,
    ModelError,
    ProviderCapabilityError,
    RunInterrupted,
    ToolError,
    ToolTimeoutError,
    UserError,
)
from .handoffs import Handoff, HandoffInputData, handoff
from .items import FunctionCall, FunctionCallOutput, Item, Message, RunUsage, Usage
from .lifecycle import AgentHooks, RunHooks
from .memory import InMemorySession, Session
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

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentHooks",
    "AgentTool",
    "ApprovalRequest",
    "AscentError",
    "CodeInterpreterTool",
    "ComputerTool",
    "FileSearchTool",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "Handoff",
    "HandoffInputData",
    "HostedTool",
    "InMemorySession",
    "Item",
    "MaxTurnsExceeded",
    "Message",
    "Model",
    "ModelAPIError",
    "ModelBehaviorError",
    "ModelError",
    "ModelSettings",
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
    "ToolTimeoutError",
    "ToolsToFinalOutput",
    "Usage",
    "UserError",
    "WebSearchTool",
    "__version__",
    "function_tool",
    "handoff",
]
