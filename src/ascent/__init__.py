"""Ascent: a framework and runtime for AI agents.

One agent loop (a pure generator of commands), any model, offline by default.
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and editors see; at run time, see __getattr__
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

# Each exported name and the module that defines it. ``import ascent`` imports none of
# them (so the command line and a container's start pay for what they use); the first
# use of a name imports its module, once.
_EXPORTS: dict[str, str] = {
    "Agent": ".agent",
    "AgentTool": ".agent",
    "FunctionToolResult": ".agent",
    "OutputType": ".agent",
    "StopAtTools": ".agent",
    "ToolsToFinalOutput": ".agent",
    "RunContext": ".context",
    "ToolContext": ".context",
    "AgentNotFound": ".errors",
    "AscentError": ".errors",
    "BranchError": ".errors",
    "GuardrailTripwireTriggered": ".errors",
    "InputGuardrailTripwireTriggered": ".errors",
    "MCPError": ".errors",
    "MaxTurnsExceeded": ".errors",
    "ModelAPIError": ".errors",
    "ModelBehaviorError": ".errors",
    "ModelError": ".errors",
    "OutputGuardrailTripwireTriggered": ".errors",
    "PatternError": ".errors",
    "ProviderCapabilityError": ".errors",
    "RunConflict": ".errors",
    "RunNotFound": ".errors",
    "RunTimeoutError": ".errors",
    "ToolError": ".errors",
    "ToolGuardrailTripwireTriggered": ".errors",
    "ToolTimeoutError": ".errors",
    "UserError": ".errors",
    "GuardrailOutput": ".guardrails",
    "InputGuardrail": ".guardrails",
    "OutputGuardrail": ".guardrails",
    "ToolGuardrailDecision": ".guardrails",
    "input_guardrail": ".guardrails",
    "output_guardrail": ".guardrails",
    "tool_input_guardrail": ".guardrails",
    "tool_output_guardrail": ".guardrails",
    "Handoff": ".handoffs",
    "HandoffInputData": ".handoffs",
    "handoff": ".handoffs",
    "FunctionCall": ".items",
    "FunctionCallOutput": ".items",
    "Item": ".items",
    "Message": ".items",
    "RunUsage": ".items",
    "Usage": ".items",
    "AgentHooks": ".lifecycle",
    "RunHooks": ".lifecycle",
    "InMemorySession": ".memory",
    "MemoryStore": ".memory",
    "Session": ".memory",
    "open_session": ".memory",
    "Model": ".models",
    "ModelSettings": ".models",
    "ApprovalRequest": ".run",
    "RunConfig": ".run",
    "RunResult": ".run",
    "RunResultStreaming": ".run",
    "RunState": ".run",
    "Runner": ".run",
    "StreamEvent": ".run",
    "CodeInterpreterTool": ".tools",
    "ComputerTool": ".tools",
    "FileSearchTool": ".tools",
    "FunctionTool": ".tools",
    "HostedTool": ".tools",
    "WebSearchTool": ".tools",
    "function_tool": ".tools",
    "custom_span": ".tracing",
    "trace": ".tracing",
}

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
    """An exported name, imported on first use; else a missing name, with a hint when
    it is an OpenAI Agents SDK name that Ascent spells differently.

    ``from ascent import RunContextWrapper`` raises ImportError with the hint;
    ``ascent.RunContextWrapper`` raises AttributeError with it (so ``hasattr``
    and ``getattr(ascent, name, default)`` behave as for any missing name).
    """
    module = _EXPORTS.get(name)
    if module is not None:
        from importlib import import_module

        value = getattr(import_module(module, __name__), name)
        globals()[name] = value  # the next use is a plain attribute read
        return value
    from ._private.sdk_names import hint_for

    hint = hint_for(name)
    if hint is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}", name=name, obj=None)
    if _called_by_from_import():
        raise ImportError(hint, name=__name__)
    raise AttributeError(hint, name=name, obj=None)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
