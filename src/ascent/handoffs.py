"""Handoffs: one agent passes the conversation to another.

To the model a handoff is a tool named ``transfer_to_<agent>``; when it calls
one, the run continues with the target agent, which sees the conversation so
far (optionally filtered). Agents may hand back, so cycles are allowed; the
run's ``max_turns`` bounds them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from ._private.naming import slugify
from ._private.strict_schema import StrictSchemaError, ensure_strict_json_schema
from .context import RunContext
from .items import FunctionCall, FunctionCallOutput, Item
from .models.base import FunctionToolSpec
from .tools import EnabledCheck, ToolArgumentsError

if TYPE_CHECKING:
    from .agent import Agent

__all__ = [
    "Handoff",
    "HandoffInputData",
    "HandoffInputFilter",
    "apply_input_filter",
    "handoff",
    "remove_tool_items",
]


@dataclass(kw_only=True, frozen=True)
class HandoffInputData:
    """What the next agent will see: the run's input and the items made so far."""

    input_history: tuple[Item, ...]
    new_items: tuple[Item, ...]


HandoffInputFilter = Callable[[HandoffInputData], HandoffInputData | Awaitable[HandoffInputData]]
OnHandoff = Callable[..., Any]


@dataclass(kw_only=True)
class Handoff:
    """A handoff to ``agent``; build it with :func:`handoff` or list the agent itself."""

    agent: Agent[Any]
    tool_name: str
    tool_description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    strict: bool = True
    input_type: Any = None
    on_handoff: OnHandoff | None = None
    input_filter: HandoffInputFilter | None = None
    is_enabled: bool | EnabledCheck = True
    _adapter: TypeAdapter[Any] | None = field(default=None, repr=False)

    def spec(self) -> FunctionToolSpec:
        return FunctionToolSpec(
            name=self.tool_name,
            description=self.tool_description,
            parameters=self.parameters,
            strict=self.strict,
        )

    def parse_input(self, arguments: str) -> Any:
        """The model's handoff arguments, validated against ``input_type``."""
        if self._adapter is None:
            return None
        try:
            return self._adapter.validate_json(arguments or "{}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ToolArgumentsError(problems) from None

    async def invoke(self, context: RunContext[Any], call: FunctionCall) -> None:
        """Run ``on_handoff`` (with the parsed input when there is an ``input_type``)."""
        value = self.parse_input(call.arguments)
        if self.on_handoff is None:
            return
        outcome = (
            self.on_handoff(context, value)
            if self.input_type is not None
            else self.on_handoff(context)
        )
        if inspect.isawaitable(outcome):
            await outcome


async def apply_input_filter(
    input_filter: HandoffInputFilter, data: HandoffInputData
) -> HandoffInputData:
    """Run a handoff's input filter (sync or async) on what the next agent would see."""
    filtered = input_filter(data)
    if inspect.isawaitable(filtered):
        filtered = await filtered
    if not isinstance(filtered, HandoffInputData):
        raise TypeError(
            f"a handoff input filter must return HandoffInputData, not {type(filtered).__name__}"
        )
    return filtered


def default_tool_name(agent_name: str) -> str:
    return f"transfer_to_{slugify(agent_name)}"


def handoff(
    agent: Agent[Any],
    *,
    tool_name_override: str | None = None,
    tool_description_override: str | None = None,
    input_type: Any = None,
    on_handoff: OnHandoff | None = None,
    input_filter: HandoffInputFilter | None = None,
    is_enabled: bool | EnabledCheck = True,
) -> Handoff:
    """A handoff to ``agent`` with options.

    ``input_type`` lets the model pass structured data with the handoff (a
    reason, a priority); ``on_handoff(context, input)`` receives it.
    ``on_handoff(context)`` runs when there is none. ``input_filter`` rewrites
    what the next agent sees. ``is_enabled`` (a bool, or a callable of the run
    context and the agent, sync or async) decides on each model call whether
    the model is offered the handoff.
    """
    description = tool_description_override or (
        f"Hand off to the {agent.name} agent to handle the request."
        + (f" {agent.handoff_description}" if agent.handoff_description else "")
    )
    adapter: TypeAdapter[Any] | None = None
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    strict = True
    if input_type is not None:
        adapter = TypeAdapter(input_type)
        parameters = adapter.json_schema()
        try:
            parameters = ensure_strict_json_schema(parameters)
        except StrictSchemaError:
            strict = False
    return Handoff(
        agent=agent,
        tool_name=tool_name_override or default_tool_name(agent.name),
        tool_description=description,
        parameters=parameters,
        strict=strict,
        input_type=input_type,
        on_handoff=on_handoff,
        input_filter=input_filter,
        is_enabled=is_enabled,
        _adapter=adapter,
    )


def remove_tool_items(data: HandoffInputData) -> HandoffInputData:
    """An input filter that hides tool calls and their outputs from the next agent."""

    def keep(item: Item) -> bool:
        return not isinstance(item, FunctionCall | FunctionCallOutput) and (
            getattr(item, "type", "") not in {"web_search_call", "file_search_call"}
        )

    return HandoffInputData(
        input_history=tuple(i for i in data.input_history if keep(i)),
        new_items=tuple(i for i in data.new_items if keep(i)),
    )


def handoff_output(target: str) -> str:
    """The tool output the model sees after a handoff."""
    return json.dumps({"assistant": target})
