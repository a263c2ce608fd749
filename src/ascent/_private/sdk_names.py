"""What the OpenAI Agents SDK (the ``agents`` package) spells differently, and
what to write in Ascent instead.

Plain data, read by ``ascent.__getattr__`` (an SDK name imported from
``ascent``), by :func:`reject_sdk_keywords` (an SDK keyword argument) and by
``docs/migrating.md``. Every Ascent name a hint points to is listed in
``targets`` (``module:name``), and a test imports each one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import NamedTuple, ParamSpec, TypeVar

__all__ = [
    "SDK_KEYWORDS",
    "SDK_NAMES",
    "SDKName",
    "hint_for",
    "markdown_tables",
    "reject_sdk_keywords",
]


class SDKName(NamedTuple):
    write: str  # what to write in Ascent, shown to the user
    targets: tuple[str, ...] = ()  # the Ascent names it points to, as "module:name"


SDK_NAMES: dict[str, SDKName] = {
    # context and results
    "RunContextWrapper": SDKName(
        "RunContext (from ascent import RunContext); a tool's context is ToolContext",
        ("ascent:RunContext", "ascent:ToolContext"),
    ),
    "TResponseInputItem": SDKName(
        "Item (from ascent.items import Item), or a dict in the Responses API's shape",
        ("ascent.items:Item",),
    ),
    "ItemHelpers": SDKName(
        "the helpers in ascent.items, e.g. text_of(items) for the last assistant "
        "message's text, or message.text",
        ("ascent.items:text_of", "ascent.items:input_to_items", "ascent.items:Message"),
    ),
    "RunItem": SDKName(
        "Item (from ascent.items import Item): a Message, FunctionCall, "
        "FunctionCallOutput, Reasoning, ...",
        ("ascent.items:Item", "ascent.items:Message", "ascent.items:Reasoning"),
    ),
    "MessageOutputItem": SDKName(
        "Message (from ascent import Message); its text is message.text",
        ("ascent:Message",),
    ),
    "ToolCallItem": SDKName(
        "FunctionCall (from ascent import FunctionCall)", ("ascent:FunctionCall",)
    ),
    "ToolCallOutputItem": SDKName(
        "FunctionCallOutput (from ascent import FunctionCallOutput)",
        ("ascent:FunctionCallOutput",),
    ),
    "HandoffCallItem": SDKName(
        "FunctionCall (from ascent import FunctionCall): a handoff is called like a tool",
        ("ascent:FunctionCall",),
    ),
    "HandoffOutputItem": SDKName(
        "FunctionCallOutput (from ascent import FunctionCallOutput): "
        "its handoff_to names the new agent",
        ("ascent:FunctionCallOutput",),
    ),
    "ReasoningItem": SDKName(
        "Reasoning (from ascent.items import Reasoning)", ("ascent.items:Reasoning",)
    ),
    # streaming
    "RawResponsesStreamEvent": SDKName(
        "TextDeltaEvent and the other events in ascent.run.events "
        "(result.stream_events() yields StreamEvent)",
        ("ascent.run.events:TextDeltaEvent", "ascent:StreamEvent"),
    ),
    "RunItemStreamEvent": SDKName(
        "ItemEvent (from ascent.run.events import ItemEvent)",
        ("ascent.run.events:ItemEvent",),
    ),
    "AgentUpdatedStreamEvent": SDKName(
        "AgentChangedEvent (from ascent.run.events import AgentChangedEvent)",
        ("ascent.run.events:AgentChangedEvent",),
    ),
    # structured output
    "AgentOutputSchema": SDKName(
        "OutputType (from ascent import OutputType): "
        "Agent(output_type=OutputType(MyType, strict=False)) for a non-strict schema",
        ("ascent:OutputType",),
    ),
    # guardrails
    "GuardrailFunctionOutput": SDKName(
        "GuardrailOutput (from ascent import GuardrailOutput)", ("ascent:GuardrailOutput",)
    ),
    # errors
    "AgentsException": SDKName(
        "AscentError (from ascent import AscentError)", ("ascent:AscentError",)
    ),
    # models and clients
    "OpenAIChatCompletionsModel": SDKName(
        'a model string: Agent(model="openai-chat:MODEL")', ("ascent:Agent",)
    ),
    "OpenAIResponsesModel": SDKName(
        'a model string: Agent(model="openai:MODEL")', ("ascent:Agent",)
    ),
    "LitellmModel": SDKName(
        'a model string: Agent(model="litellm:provider/model")', ("ascent:Agent",)
    ),
    "AsyncOpenAI": SDKName(
        "nothing: set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server) "
        "and name the model as a string, e.g. 'openai:gpt-4.1'; "
        "to pass your own client, build ascent.models.openai_responses.OpenAIResponsesModel",
        ("ascent.models.openai_responses:OpenAIResponsesModel",),
    ),
    "set_default_openai_key": SDKName(
        "set the OPENAI_API_KEY environment variable, or pass a model to the Agent "
        "or to RunConfig(model=...)",
        ("ascent:RunConfig",),
    ),
    "set_default_openai_client": SDKName(
        "set OPENAI_API_KEY / OPENAI_BASE_URL, or pass a model built with your client "
        "(ascent.models.openai_responses.OpenAIResponsesModel)",
        ("ascent.models.openai_responses:OpenAIResponsesModel",),
    ),
    "set_default_openai_api": SDKName(
        "the model string's prefix: 'openai:MODEL' (Responses) or 'openai-chat:MODEL' "
        "(Chat Completions)",
        ("ascent.models:resolve_model",),
    ),
    # tracing
    "set_tracing_disabled": SDKName(
        "RunConfig(tracing_disabled=True) per run, or ASCENT_TRACING=off for the process",
        ("ascent:RunConfig",),
    ),
    "gen_trace_id": SDKName(
        "nothing: Ascent makes the trace id; to choose one, pass "
        "RunConfig(trace_id=...) or trace(name, trace_id=...)",
        ("ascent:RunConfig", "ascent:trace"),
    ),
    "add_trace_processor": SDKName(
        "from ascent.tracing import add_trace_processor", ("ascent.tracing:add_trace_processor",)
    ),
    "set_trace_processors": SDKName(
        "from ascent.tracing import set_trace_processors",
        ("ascent.tracing:set_trace_processors",),
    ),
    "SQLiteSession": SDKName(
        "from ascent.memory import SQLiteSession, or open_session(...)",
        ("ascent.memory:SQLiteSession", "ascent:open_session"),
    ),
}


def hint_for(name: str) -> str | None:
    """The message for an SDK name imported from ``ascent``, or None if it is not one."""
    entry = SDK_NAMES.get(name)
    if entry is None:
        return None
    return (
        f"ascent has no {name!r}: that is the OpenAI Agents SDK's name. "
        f"In Ascent, write {entry.write}"
    )


P = ParamSpec("P")
R = TypeVar("R")


def reject_sdk_keywords(renames: Mapping[str, str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a callable refuse the SDK's keyword names with the Ascent name to write.

    ``renames`` maps the SDK's keyword to Ascent's, e.g. ``{"tool_name": "name"}``.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, new in renames.items():
                if old in kwargs:
                    raise TypeError(
                        f"{func.__qualname__}() got the OpenAI Agents SDK's {old!r}: "
                        f"write {new!r} in Ascent"
                    )
            return func(*args, **kwargs)

        return checked

    return decorate


# The keyword arguments the SDK spells differently, by the callable that takes them.
SDK_KEYWORDS: dict[str, dict[str, str]] = {
    "Agent.as_tool": {
        "tool_name": "name",
        "tool_description": "description",
    },
    "function_tool": {
        "name_override": "name",
        "description_override": "description",
        "strict_mode": "strict",
    },
}


def markdown_tables() -> str:
    """The tables of ``docs/migrating.md`` (a test keeps the page in step)."""
    lines = ["| OpenAI Agents SDK | In Ascent |", "| --- | --- |"]
    lines += [f"| `{name}` | {entry.write} |" for name, entry in sorted(SDK_NAMES.items())]
    lines += ["", "| OpenAI Agents SDK keyword | In Ascent |", "| --- | --- |"]
    lines += [
        f"| `{owner}({old}=...)` | `{owner}({new}=...)` |"
        for owner, renames in SDK_KEYWORDS.items()
        for old, new in renames.items()
    ]
    return "\n".join(lines) + "\n"
