"""Structured output: an agent's ``output_type`` as a JSON schema and a validator.

Providers need an object at the top of a structured-output schema, so any other
type (``int``, ``list[X]``, a ``Literal``, a union) is wrapped as
``{"response": <value>}``; :meth:`OutputSchema.validate_json` unwraps it again.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic_core
from pydantic import BaseModel, PydanticUserError, TypeAdapter, ValidationError, create_model

from ..errors import UserError
from ..models.base import OutputSpec
from .schema import describe_validation_error
from .strict_schema import StrictSchemaError, ensure_strict_json_schema

__all__ = ["OutputSchema", "OutputType", "OutputValidationError", "output_schema_for"]

WRAPPER_KEY = "response"
_NAME_LIMIT = 64  # OpenAI's limit for a response format name
_FENCED = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_MISSING: Any = object()


@dataclass(frozen=True)
class OutputType:
    """An ``output_type`` with its strictness chosen: ``OutputType(dict[str, int], strict=False)``.

    A bare type must have a strict schema (the provider then constrains the
    model's output to it); a type that cannot have one (free-form mappings,
    tuples, ``Any``) is refused unless you opt out here, because a non-strict
    schema is only a request the model may not follow. The OpenAI Agents SDK
    spells this ``AgentOutputSchema(MyType, strict_json_schema=False)``.
    """

    type: Any
    _: KW_ONLY
    strict: bool = True


class OutputValidationError(ValueError):
    """The model's final output does not match the agent's ``output_type``.

    A ValueError rather than an ``AscentError``: the runner decides whether to
    ask the model again or give up with ``ModelBehaviorError``.
    """


class OutputSchema:
    """How one ``output_type`` is asked for, validated, stored and restored.

    ``str`` and ``None`` mean plain text (``is_plain_text``): no schema, the
    model's text is the output.
    """

    def __init__(self, output_type: Any) -> None:
        strict = True
        if isinstance(output_type, OutputType):
            output_type, strict = output_type.type, output_type.strict
        self.output_type = output_type
        self.is_plain_text: bool = output_type is None or output_type is str
        self.is_wrapped = False
        self.name = "text" if self.is_plain_text else _type_name(output_type)
        self.json_schema: dict[str, Any] = {"type": "string"}
        self.strict = False
        self._adapter: TypeAdapter[Any] | None = None
        self._wrapper: type[BaseModel] | None = None
        if self.is_plain_text:
            return

        try:
            self._adapter = TypeAdapter(output_type)
            schema = self._adapter.json_schema()
            self.is_wrapped = not _is_object_schema(schema)
            if self.is_wrapped:
                self._wrapper = create_model(self.name, response=(output_type, ...))
                schema = self._wrapper.model_json_schema()
        except PydanticUserError as exc:
            raise UserError(f"output_type {output_type!r} is not supported: {exc}") from exc
        if not strict:
            self.json_schema = schema
            return
        try:
            self.json_schema = ensure_strict_json_schema(schema)
        except StrictSchemaError as exc:
            shown = _type_repr(output_type)
            raise UserError(
                f"output_type {shown} has no strict JSON schema ({exc}), so the model's "
                "output could not be constrained to it. To use it as a non-strict schema, "
                f"write output_type=OutputType({shown}, strict=False) (from ascent import "
                "OutputType); or use a type with fixed fields, such as a Pydantic model"
            ) from None
        self.strict = True

    def __repr__(self) -> str:
        return f"OutputSchema({self.name!r}, strict={self.strict}, wrapped={self.is_wrapped})"

    def spec(self) -> OutputSpec:
        """What the provider is asked to follow. Plain text has no spec."""
        if self.is_plain_text:
            raise UserError("plain-text output has no output spec; check is_plain_text first")
        return OutputSpec(name=self.name, schema=self.json_schema, strict=self.strict)

    def validate_json(self, text: str) -> Any:
        """The typed value of the model's final output text.

        Besides the exact schema, accepts the JSON inside a Markdown code fence
        and, for wrapped types, the bare value: models without strict structured
        output produce both.
        """
        if self._adapter is None:
            return text
        try:
            return self._validate(text)
        except ValidationError as exc:
            recovered = self._recover(text)
            if recovered is not _MISSING:
                return recovered
            detail = describe_validation_error(exc)
            raise OutputValidationError(
                f"final output does not match {self.name}: {detail}"
            ) from exc

    def dump(self, value: Any) -> Any:
        """``value`` as JSON-compatible data (to store it in a run state)."""
        if self._adapter is None:
            return value
        return self._adapter.dump_python(value, mode="json")

    def load(self, data: Any) -> Any:
        """Reverse :meth:`dump`: the typed value from stored data."""
        if self._adapter is None:
            return data
        try:
            # Through JSON so that strict-mode models accept the dumped forms
            # (ISO dates, enum values, lists for tuples).
            return self._adapter.validate_json(pydantic_core.to_json(data))
        except ValidationError as exc:
            detail = describe_validation_error(exc)
            raise OutputValidationError(f"stored output is not a {self.name}: {detail}") from exc

    def _validate(self, text: str) -> Any:
        if self._wrapper is not None:
            return getattr(self._wrapper.model_validate_json(text), WRAPPER_KEY)
        assert self._adapter is not None
        return self._adapter.validate_json(text)

    def _recover(self, text: str) -> Any:
        """Try the lenient readings; only runs once the exact one has failed."""
        assert self._adapter is not None
        attempts: list[tuple[Callable[[str], Any], str]] = []
        fenced = _FENCED.match(text)
        if fenced:
            attempts.append((self._validate, fenced.group(1)))
        if self._wrapper is not None:  # the bare value, without {"response": ...}
            attempts.append((self._adapter.validate_json, text))
            if fenced:
                attempts.append((self._adapter.validate_json, fenced.group(1)))
        for validate, candidate in attempts:
            try:
                return validate(candidate)
            except ValidationError:
                continue
        return _MISSING


@functools.lru_cache(maxsize=256)
def _cached(output_type: Any) -> OutputSchema:
    return OutputSchema(output_type)


def output_schema_for(output_type: Any) -> OutputSchema:
    """The :class:`OutputSchema` of ``output_type``, built once per type."""
    try:
        hash(output_type)
    except TypeError:  # e.g. Annotated with unhashable metadata: build it each time
        return OutputSchema(output_type)
    return _cached(output_type)


def _type_repr(output_type: Any) -> str:
    """``dict[str, int]``, ``Weather``: the type as the user wrote it."""
    if isinstance(output_type, type) and get_origin(output_type) is None:
        return output_type.__qualname__
    return repr(output_type).replace("typing.", "")


def _is_object_schema(schema: dict[str, Any]) -> bool:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return schema.get("type") == "object"


def _type_name(output_type: Any) -> str:
    """A response-format name from a type: ``Weather``, ``list_int``, ``yes_or_no``."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", _raw_name(output_type)).strip("_")
    return cleaned[:_NAME_LIMIT] or "output"


def _raw_name(value: Any) -> str:
    origin = get_origin(value)
    args = get_args(value)
    if origin is None:
        if value is None or value is type(None):
            return "None"
        return str(getattr(value, "__name__", value))
    if origin is Annotated:
        return _raw_name(args[0])
    if origin is Union or origin is types.UnionType:
        return "_or_".join(_raw_name(arg) for arg in args)
    if origin is Literal:
        return "_or_".join(str(arg) for arg in args)
    base = getattr(origin, "__name__", None) or getattr(origin, "_name", None) or "output"
    return "_".join([base, *(_raw_name(arg) for arg in args)])
