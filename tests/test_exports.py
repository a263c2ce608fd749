"""The package's face: the names ``ascent`` exports, and the one error tree."""

from __future__ import annotations

import importlib
import pkgutil

import ascent
import ascent.errors

EXPORTED = [
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


def test_the_exported_names_are_pinned_sorted_and_importable() -> None:
    assert ascent.__all__ == EXPORTED  # a change to the face is a deliberate one
    assert sorted(EXPORTED) == EXPORTED
    for name in EXPORTED:
        assert getattr(ascent, name) is not None, name
    assert [n for n in EXPORTED if n.startswith("_") and n != "__version__"] == []


def test_every_ascent_error_lives_in_the_errors_module() -> None:
    for module in pkgutil.walk_packages(ascent.__path__, "ascent."):
        if module.name.endswith("__main__"):
            continue  # running it is what it does
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed
            continue
    found: list[type] = []
    queue: list[type] = [ascent.AscentError]
    while queue:
        error = queue.pop()
        found.append(error)
        queue.extend(error.__subclasses__())
    elsewhere = [e.__qualname__ for e in found if e.__module__ != "ascent.errors"]
    assert elsewhere == []
    assert sorted(e.__name__ for e in found) == sorted(ascent.errors.__all__)


def test_the_error_tree_drawn_in_the_docstring_names_every_error() -> None:
    tree = ascent.errors.__doc__ or ""
    for name in ascent.errors.__all__:
        assert f"    {name}\n" in tree or f"── {name}" in tree, name
