"""Tools: Python functions the model can call, and tools the provider hosts.

``@function_tool`` turns a function into a :class:`FunctionTool`: the JSON schema
comes from the signature, the type hints and the docstring; the model's
arguments are validated by Pydantic before the function runs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import pydantic_core
from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter, ValidationError

from ._private.schema import DocstringStyle, ToolArgumentsError, function_schema
from ._private.sdk_names import SDK_KEYWORDS, reject_sdk_keywords
from .context import RunContext, ToolContext
from .errors import ToolTimeoutError, UserError
from .guardrails import ToolInputGuardrail, ToolOutputGuardrail
from .models.base import FunctionToolSpec, HostedToolSpec

__all__ = [
    "ApprovalCheck",
    "CodeInterpreterTool",
    "ComputerTool",
    "EnabledCheck",
    "FileSearchTool",
    "FunctionTool",
    "HostedTool",
    "RemoteToolSpec",
    "Tool",
    "ToolArgumentsError",
    "WebSearchTool",
    "check_enabled",
    "function_tool",
    "output_as_data",
    "stringify_output",
]

ApprovalCheck = (
    Callable[[RunContext[Any], dict[str, Any]], bool | Awaitable[bool]]
    | Callable[[RunContext[Any], dict[str, Any], str], bool | Awaitable[bool]]
)
"""Decides per call whether a tool call needs a human's approval: called with
the run context and the parsed arguments, and the call id as a third argument
when it takes one (the OpenAI Agents SDK's form)."""

_APPROVAL_FORMS = (
    "needs_approval takes True/False or a function of (context, arguments) or "
    "(context, arguments, call_id), sync or async, returning a bool"
)

EnabledCheck = Callable[[RunContext[Any], Any], bool | Awaitable[bool]]
"""Decides per model call whether a tool (or handoff) is offered: ``(context, agent)``."""


async def check_enabled(
    is_enabled: bool | EnabledCheck, context: RunContext[Any], agent: Any
) -> bool:
    """Whether a tool or handoff with this ``is_enabled`` is offered on this call."""
    if isinstance(is_enabled, bool):
        return is_enabled
    decision = is_enabled(context, agent)
    if inspect.isawaitable(decision):
        decision = await decision
    return bool(decision)


@dataclass(kw_only=True)
class FunctionTool:
    """A tool the model calls with JSON arguments.

    ``on_invoke(tool_context, arguments_json)`` does the work; ``@function_tool``
    builds it from a plain function. ``needs_approval`` pauses the run for a
    human (always, or when the callable says so for a given call). ``timeout``
    bounds one call in seconds. ``is_enabled`` (a bool, or a callable of the run
    context and the agent, sync or async) decides on each model call whether
    the model is offered the tool at all. ``return_type`` (the function's
    declared return type, set by ``@function_tool``) rebuilds the tool's value
    from its JSON form.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    on_invoke: Callable[[ToolContext[Any], str], Awaitable[Any]]
    strict: bool = True
    needs_approval: bool | ApprovalCheck = False
    timeout: float | None = None
    input_guardrails: list[ToolInputGuardrail] = field(default_factory=list)
    output_guardrails: list[ToolOutputGuardrail] = field(default_factory=list)
    is_enabled: bool | EnabledCheck = True
    return_type: Any = None
    _approval_arity: int = field(default=2, init=False, repr=False, compare=False)
    _return_adapter: TypeAdapter[Any] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Checked here, when the tool is built, not on the first call mid-run.
        if not isinstance(self.needs_approval, bool):
            self._approval_arity = _approval_arity(self.name, self.needs_approval)

    def spec(self) -> FunctionToolSpec:
        return FunctionToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            strict=self.strict,
        )

    async def invoke(self, context: ToolContext[Any], arguments: str) -> Any:
        """Run the tool once; raises :class:`ToolArgumentsError` on bad arguments."""
        if self.timeout is None:
            return await self.on_invoke(context, arguments)
        try:  # asyncio.timeout: a cancellation as the tool ends is not lost (3.11's wait_for)
            async with asyncio.timeout(self.timeout):
                return await self.on_invoke(context, arguments)
        except TimeoutError:
            raise ToolTimeoutError(
                f"tool {self.name!r} timed out after {self.timeout:g}s"
            ) from None

    def output_from_data(self, data: Any) -> Any:
        """The tool's value rebuilt from its JSON form through ``return_type``.

        Values are stored as JSON (a run's state, a durable run's record); the
        declared return type gives a model, a dataclass or a date back. Without
        one, or when the data does not fit it, the JSON form is the value.
        """
        if self.return_type is None:
            return data
        try:
            if self._return_adapter is None:
                self._return_adapter = TypeAdapter(self.return_type)
            return self._return_adapter.validate_json(pydantic_core.to_json(data))
        except (ValidationError, PydanticUserError, TypeError, ValueError):
            return data

    def output_from_text(self, text: str) -> Any:
        """The tool's value rebuilt from the text the model read (see :func:`stringify_output`)."""
        if self.return_type is str:
            return text
        try:
            data = json.loads(text)
        except ValueError:
            return text
        return self.output_from_data(data)

    async def requires_approval(
        self, context: RunContext[Any], arguments: str, call_id: str = ""
    ) -> bool:
        check: Any = self.needs_approval
        if isinstance(check, bool):
            return check
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError:
            parsed = {}
        params = parsed if isinstance(parsed, dict) else {}
        if self._approval_arity == 3:
            decision = check(context, params, call_id)
        else:
            decision = check(context, params)
        if inspect.isawaitable(decision):
            decision = await decision
        return bool(decision)


def _approval_arity(tool: str, check: Any) -> int:
    """How many arguments the approval callback takes: 2 (ours) or 3 (with the call id)."""
    if not callable(check):
        raise UserError(f"tool {tool!r}: {_APPROVAL_FORMS}, not {type(check).__name__}")
    try:
        signature = inspect.signature(check)
    except (TypeError, ValueError):  # some builtins have no signature: assume ours
        return 2
    for arity in (3, 2):
        try:
            signature.bind(*range(arity))
        except TypeError:
            continue
        return arity
    raise UserError(f"tool {tool!r}: {_APPROVAL_FORMS}; {check!r} takes {signature}")


class RemoteToolSpec(BaseModel):
    """A tool that a server runs (an MCP server's), as a run listed it.

    A run records these, not live tool objects, so a resumed or replayed run
    offers the model exactly the tools it saw before; the server turns each
    back into a callable tool. ``name`` is what the model sees (it may carry a
    prefix), ``remote_name`` the tool's name on the server.
    """

    model_config = ConfigDict(defer_build=True)

    name: str
    remote_name: str
    description: str
    parameters: dict[str, Any]


@dataclass(kw_only=True)
class HostedTool:
    """A tool the provider runs (OpenAI Responses API). Its calls arrive as items."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.kind

    def spec(self) -> HostedToolSpec:
        return HostedToolSpec(kind=self.kind, config=dict(self.config))


def WebSearchTool(
    *, search_context_size: Literal["low", "medium", "high"] = "medium", **config: Any
) -> HostedTool:
    """The provider's web search."""
    return HostedTool(
        kind="web_search", config={"search_context_size": search_context_size, **config}
    )


def FileSearchTool(
    *, vector_store_ids: list[str], max_num_results: int | None = None
) -> HostedTool:
    """Search over the provider's vector stores."""
    config: dict[str, Any] = {"vector_store_ids": vector_store_ids}
    if max_num_results is not None:
        config["max_num_results"] = max_num_results
    return HostedTool(kind="file_search", config=config)


def CodeInterpreterTool(*, container: str | dict[str, Any] | None = None) -> HostedTool:
    """The provider's sandboxed code interpreter."""
    return HostedTool(kind="code_interpreter", config={"container": container or {"type": "auto"}})


def ComputerTool(
    *, display_width: int, display_height: int, environment: str = "browser"
) -> HostedTool:
    """The provider's computer-use tool (the caller acts on its ``computer_call`` items)."""
    return HostedTool(
        kind="computer_use_preview",
        config={
            "display_width": display_width,
            "display_height": display_height,
            "environment": environment,
        },
    )


Tool = FunctionTool | HostedTool


def output_as_data(value: Any) -> Any:
    """A tool's return value as JSON data, to record it (a value JSON cannot
    express, such as an arbitrary object, is recorded as its ``str``)."""
    return pydantic_core.to_jsonable_python(value, fallback=str)


def stringify_output(value: Any) -> str:
    """A tool's return value as the text the model reads."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    docstring_style: DocstringStyle | None = None,
    strict: bool = True,
    needs_approval: bool | ApprovalCheck = False,
    timeout: float | None = None,
    input_guardrails: list[ToolInputGuardrail] | None = None,
    output_guardrails: list[ToolOutputGuardrail] | None = None,
    is_enabled: bool | EnabledCheck = True,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


@reject_sdk_keywords(SDK_KEYWORDS["function_tool"])
def function_tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    docstring_style: DocstringStyle | None = None,
    strict: bool = True,
    needs_approval: bool | ApprovalCheck = False,
    timeout: float | None = None,
    input_guardrails: list[ToolInputGuardrail] | None = None,
    output_guardrails: list[ToolOutputGuardrail] | None = None,
    is_enabled: bool | EnabledCheck = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool of a function, bare (``@function_tool``) or with options.

    The first parameter receives the run context when annotated as
    :class:`RunContext` or :class:`ToolContext`. Sync functions run in a worker
    thread so they never block the event loop; async functions are awaited.
    """

    def build(target: Callable[..., Any]) -> FunctionTool:
        schema = function_schema(
            target,
            name=name,
            description=description,
            docstring_style=docstring_style,
            strict=strict,
        )
        return FunctionTool(
            name=schema.name,
            description=schema.description,
            parameters=schema.json_schema,
            on_invoke=schema.invoke,
            strict=schema.strict,
            needs_approval=needs_approval,
            timeout=timeout,
            input_guardrails=list(input_guardrails or []),
            output_guardrails=list(output_guardrails or []),
            is_enabled=is_enabled,
            return_type=schema.return_type,
        )

    if func is not None:
        return build(func)
    return build
