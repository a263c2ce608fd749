"""``--context JSON``: the run's context from the command line, typed as the agent expects.

An agent says what context it takes by its type parameter, ``Agent[MyContext](...)``,
or, failing that, by the annotation of its dynamic instructions' first parameter
(``RunContext[MyContext]``). The JSON is validated into that type (a Pydantic
model, a dataclass, a TypedDict, a dict...); without one, the parsed JSON is
the context as is.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any, TypeVar, get_args, get_origin

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

from ..agent import Agent
from ..context import RunContext, ToolContext
from ..errors import UserError

__all__ = ["context_from_json", "context_type"]

_NOT_DECLARED: Any = object()


def context_type(agent: Agent[Any]) -> Any:
    """The context type ``agent`` declares, or ``Any`` when it declares none."""
    declared = _type_argument(getattr(agent, "__orig_class__", None))
    if declared is _NOT_DECLARED:
        declared = _from_instructions(agent.instructions)
    return Any if declared is _NOT_DECLARED else declared


def _type_argument(alias: Any) -> Any:
    args = get_args(alias)
    if len(args) != 1 or args[0] is Any or isinstance(args[0], TypeVar):
        return _NOT_DECLARED
    return args[0]


def _from_instructions(instructions: Any) -> Any:
    if not callable(instructions) or isinstance(instructions, str):
        return _NOT_DECLARED
    try:
        hints = typing.get_type_hints(instructions)
        first = next(iter(inspect.signature(instructions).parameters), None)
    except Exception:  # unresolvable annotations: as if there were none
        return _NOT_DECLARED
    hint = hints.get(first) if first is not None else None
    if get_origin(hint) in (RunContext, ToolContext):
        return _type_argument(hint)
    return _NOT_DECLARED


def context_from_json(text: str | None, agent: Agent[Any]) -> Any:
    """The context ``--context`` gives ``agent`` (None without the option).

    Raises :class:`UserError` with one line saying what is wrong.
    """
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--context is not valid JSON: {exc}") from None
    expected = context_type(agent)
    if expected is Any:
        return data
    name = getattr(expected, "__name__", None) or repr(expected)
    try:
        return TypeAdapter(expected).validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'value'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        raise UserError(
            f"--context does not fit {name} ({agent.name}'s context): {problems}"
        ) from None
    except PydanticSchemaGenerationError:
        pass  # a plain class: its constructor decides
    if not isinstance(data, dict):
        raise UserError(f"--context must be a JSON object with the fields of {name}")
    try:
        return expected(**data)
    except Exception as exc:  # the user's constructor refused the fields
        raise UserError(f"--context does not fit {name}: {type(exc).__name__}: {exc}") from None
