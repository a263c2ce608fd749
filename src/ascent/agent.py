"""The agent: instructions, a model, tools, handoffs and an output type.

An agent is configuration only; it holds no conversation. The same agent
serves any number of concurrent runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ._private.naming import slugify
from ._private.output import OutputType, output_schema_for
from ._private.sdk_names import SDK_KEYWORDS, reject_sdk_keywords
from ._private.strict_schema import StrictSchemaError, ensure_strict_json_schema
from .context import RunContext, TContext, ToolContext
from .errors import UserError
from .guardrails import InputGuardrail, OutputGuardrail
from .handoffs import Handoff, handoff
from .items import FunctionCallOutput
from .lifecycle import AgentHooks
from .models.base import Model, ModelSettings
from .tools import (
    ApprovalCheck,
    EnabledCheck,
    FunctionTool,
    HostedTool,
    RemoteToolSpec,
    Tool,
    ToolArgumentsError,
)

if TYPE_CHECKING:
    from .memory.session import Session
    from .run.config import RunConfig

__all__ = [
    "Agent",
    "AgentTool",
    "FunctionToolResult",
    "MCPServerLike",
    "OutputType",
    "StopAtTools",
    "ToolUseBehavior",
    "ToolsToFinalOutput",
]

Instructions = str | Callable[[RunContext[Any], "Agent[Any]"], str | Awaitable[str]] | None


@dataclass(kw_only=True, frozen=True)
class StopAtTools:
    """Tool-use behaviour: end the run when one of these tools was called; its output is final."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", tuple(names))


class ToolsToFinalOutput(BaseModel):
    """What a custom tool-use function decides: stop with this output, or go on.

    The output is recorded as JSON data (see :class:`FunctionToolResult`).
    """

    model_config = ConfigDict(defer_build=True)

    is_final_output: bool
    final_output: Any = None


@dataclass(kw_only=True)
class FunctionToolResult:
    """One tool call's result, as a custom ``tool_use_behavior`` function sees it.

    ``output`` is the value the tool returned (a model, a dict, a number...),
    not the text the model reads; ``item`` is the recorded
    :class:`FunctionCallOutput`, which holds that text. A failed or refused
    call's ``output`` is its error text. Values do not outlive a pause: after
    an approval, the calls that ran before it have their values rebuilt from
    their JSON through the tool's declared return type.
    """

    tool_name: str
    output: Any
    item: FunctionCallOutput
    tool: FunctionTool | None = None

    @property
    def call_id(self) -> str:
        return self.item.call_id

    @property
    def is_error(self) -> bool:
        return self.item.is_error


ToolUseFunction = Callable[
    [RunContext[Any], list[FunctionToolResult]],
    ToolsToFinalOutput | Awaitable[ToolsToFinalOutput],
]
ToolUseBehavior = Literal["run_llm_again", "stop_on_first_tool"] | StopAtTools | ToolUseFunction


class MCPServerLike(Protocol):
    """What a run needs from an MCP server (:class:`ascent.mcp.MCPServer`).

    The core depends on this shape only, so it imports without the ``mcp``
    extra. A run calls ``acquire`` before it uses the server (connecting it
    unless it is already connected) and ``release`` when it ends (closing it
    again only if the runs opened it). It lists the tools once, as plain data
    (:class:`~ascent.tools.RemoteToolSpec`) that it records, and has the
    server ``bind`` each listed tool to a callable one.
    """

    @property
    def name(self) -> str: ...

    async def acquire(self) -> None: ...

    async def release(self) -> None: ...

    async def list_tool_specs(self) -> list[RemoteToolSpec]: ...

    def bind(self, spec: RemoteToolSpec) -> FunctionTool: ...


@dataclass(kw_only=True)
class Agent(Generic[TContext]):
    """An LLM with instructions, tools and the agents it may hand off to.

    ``instructions`` may be a callable of ``(run_context, agent)`` (sync or
    async) for instructions that depend on the run. ``output_type`` asks the
    model for structured output, validated before the run returns; its schema
    must be strict unless it says otherwise (``OutputType(T, strict=False)``).
    ``tool_use_behavior`` decides what happens after tools ran: call the model
    again (the default), stop with the first tool's value, stop at named
    tools, or a function of the tool results. ``input_guardrails`` run beside
    the first model call when this agent starts a run (before it, for those
    made with ``run_in_parallel=False``); ``output_guardrails``
    check the final output when this agent produces it. The tools of
    ``mcp_servers`` (see :mod:`ascent.mcp`) join ``tools`` in each run, listed
    when the run first needs this agent.
    """

    name: str
    instructions: Instructions = None
    handoff_description: str | None = None
    model: str | Model | None = None
    model_settings: ModelSettings = field(default_factory=ModelSettings)
    tools: list[Tool] = field(default_factory=list)
    handoffs: list[Agent[Any] | Handoff] = field(default_factory=list)
    output_type: Any = None
    hooks: AgentHooks[TContext] | None = None
    input_guardrails: list[InputGuardrail] = field(default_factory=list)
    output_guardrails: list[OutputGuardrail] = field(default_factory=list)
    tool_use_behavior: ToolUseBehavior = "run_llm_again"
    reset_tool_choice: bool = True
    mcp_servers: Sequence[MCPServerLike] = ()

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise UserError("an agent needs a non-empty name")
        for tool in self.tools:
            if not isinstance(tool, FunctionTool | HostedTool):
                raise UserError(f"agent {self.name!r}: {_not_a_tool(tool)}")
        for target in self.handoffs:
            if not isinstance(target, Agent | Handoff):
                raise UserError(
                    f"agent {self.name!r}: handoffs= takes agents or handoff(agent, ...) "
                    f"objects, not {_describe(target)}"
                    + (": a tool goes in tools=" if isinstance(target, FunctionTool) else "")
                )
        if self.output_type is not None:
            try:  # a type without a strict schema is refused here, not mid-run
                output_schema_for(self.output_type)
            except UserError as exc:
                raise UserError(f"agent {self.name!r}: {exc}") from None

    def clone(self, **changes: Any) -> Agent[TContext]:
        """A copy with some fields changed; lists are copied, not shared."""
        changes.setdefault("tools", list(self.tools))
        changes.setdefault("handoffs", list(self.handoffs))
        return dataclasses.replace(self, **changes)

    async def get_instructions(self, context: RunContext[TContext]) -> str | None:
        instructions = self.instructions
        if instructions is None or isinstance(instructions, str):
            return instructions
        value = instructions(context, self)
        if inspect.isawaitable(value):
            value = await value
        return value

    def get_handoffs(self) -> list[Handoff]:
        return [item if isinstance(item, Handoff) else handoff(item) for item in self.handoffs]

    @reject_sdk_keywords(SDK_KEYWORDS["Agent.as_tool"])
    def as_tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        max_turns: int | None = None,
        needs_approval: bool | ApprovalCheck = False,
        custom_output_extractor: Callable[[Any], str | Awaitable[str]] | None = None,
        is_enabled: bool | EnabledCheck = True,
        parameters: type[BaseModel] | None = None,
        run_config: RunConfig | None = None,
        session: Session | None = None,
    ) -> AgentTool:
        """This agent as a tool of another: it runs on the request and answers;
        control stays with the caller (unlike a handoff).

        ``custom_output_extractor`` receives the inner run's result and returns
        the text the calling model sees (the final output by default).
        ``parameters`` (a Pydantic model) replaces the single ``input`` string
        with the model's fields: the calling model fills them in, and the inner
        run's input is their JSON. ``run_config`` and ``session`` are the inner
        run's (by default it runs with the caller's config and no session).
        ``is_enabled`` decides on each model call whether the tool is offered.
        """
        tool_name = name or slugify(self.name)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "input": {"type": "string", "description": "The request for the agent."}
            },
            "required": ["input"],
            "additionalProperties": False,
        }
        strict = True
        adapter: TypeAdapter[Any] | None = None
        if parameters is not None:
            if not (isinstance(parameters, type) and issubclass(parameters, BaseModel)):
                raise UserError(
                    f"as_tool(parameters=...) takes a Pydantic model class, not {parameters!r}"
                )
            adapter = TypeAdapter(parameters)
            schema = adapter.json_schema()
            try:
                schema = ensure_strict_json_schema(schema)
            except StrictSchemaError:
                strict = False
        return AgentTool(
            name=tool_name,
            description=description or self.handoff_description or f"Ask the {self.name} agent.",
            parameters=schema,
            strict=strict,
            on_invoke=_not_run_directly,
            needs_approval=needs_approval,
            is_enabled=is_enabled,
            agent=self,
            max_turns=max_turns,
            custom_output_extractor=custom_output_extractor,
            input_type=parameters,
            run_config=run_config,
            session=session,
            _input_adapter=adapter,
        )


@dataclass(kw_only=True)
class AgentTool(FunctionTool):
    """An agent used as a tool. The runner runs it as a nested run, so its
    stream events reach the caller's stream, tagged with the inner agent."""

    agent: Agent[Any]
    max_turns: int | None = None
    custom_output_extractor: Callable[[Any], str | Awaitable[str]] | None = None
    input_type: type[BaseModel] | None = None
    run_config: RunConfig | None = None
    session: Session | None = None
    _input_adapter: TypeAdapter[Any] | None = field(default=None, repr=False)

    def build_input(self, arguments: str) -> str:
        """The inner run's input from the model's arguments: the ``input`` string,
        or the JSON of the validated ``parameters`` model. Raises
        :class:`ToolArgumentsError` on bad arguments."""
        if self._input_adapter is not None:
            try:
                value = self._input_adapter.validate_json(arguments or "{}")
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
                    for err in exc.errors()
                )
                raise ToolArgumentsError(problems) from None
            return self._input_adapter.dump_json(value).decode()
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from None
        request = parsed.get("input") if isinstance(parsed, dict) else None
        if not isinstance(request, str):
            raise ToolArgumentsError("'input' is required and must be a string")
        return request


def _describe(value: Any) -> str:
    """``function 'lookup'``, ``FunctionTool 'lookup'``, ``str 'lookup'``: short, for messages."""
    if inspect.isroutine(value):
        return f"function {getattr(value, '__qualname__', value)!r}"
    name = getattr(value, "name", None)
    shown = name if isinstance(name, str) else value
    text = repr(shown)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _not_a_tool(value: Any) -> str:
    """Why ``value`` cannot be listed in ``tools=``, and what to write instead."""
    if isinstance(value, Agent):
        return (
            f"agent {value.name!r} is not a tool: list agent.as_tool() in tools= "
            "to call it as a tool, or the agent in handoffs= to hand the conversation over"
        )
    if inspect.isroutine(value):
        return (
            f"{_describe(value)} is a plain function: decorate it with @function_tool "
            "(from ascent import function_tool) to make it a tool"
        )
    return f"tools= takes tools (made with @function_tool, or hosted tools), not {_describe(value)}"


async def _not_run_directly(context: ToolContext[Any], arguments: str) -> Any:
    raise UserError("an agent tool runs through the Runner, not by calling it directly")
