"""Function-tool schemas: a Python signature in, a JSON schema and a validated call out.

Everything costly (type hints, docstring, Pydantic model, JSON schema) happens
once in :func:`function_schema`; :meth:`FunctionSchema.invoke` runs on every
tool call and only parses, validates and calls.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model

from ..context import RunContext
from ..errors import UserError
from .strict_schema import StrictSchemaError, ensure_strict_json_schema

__all__ = [
    "DocstringStyle",
    "FunctionSchema",
    "ToolArgumentsError",
    "describe_validation_error",
    "function_schema",
]

DocstringStyle = Literal["google", "numpy", "sphinx"]

_STYLES = {"google": "GOOGLE", "numpy": "NUMPYDOC", "sphinx": "REST"}
_MAX_ERRORS = 5
_MAX_INPUT_REPR = 60


class ToolArgumentsError(ValueError):
    """The model's arguments were not valid JSON or did not match the schema.

    Not an ``AscentError``: the runner hands the message back to the model, which
    is why it names the failing fields and stays short. The message says what is
    wrong with the arguments, not which tool they were for: whoever catches it
    (the runner, the MCP server) names the tool, once.
    """


@dataclass(frozen=True, kw_only=True, eq=False)
class FunctionSchema:
    """A function as a tool: its name, description and parameter schema, and a caller.

    ``arguments_model`` validates the model's JSON; its fields carry internal
    names and use the parameter names as aliases, so any parameter name works
    (even ``schema`` or ``model_config``).
    """

    name: str
    description: str
    json_schema: dict[str, Any]
    strict: bool
    takes_context: bool
    arguments_model: type[BaseModel]
    func: Callable[..., Any]
    return_type: Any = None  # the declared return annotation; None when there is none
    _positional: tuple[str, ...] = field(repr=False)
    _keyword: tuple[tuple[str, str], ...] = field(repr=False)
    _context_keyword: str | None = field(repr=False)
    _is_async: bool = field(repr=False)

    async def invoke(self, context: Any, arguments: str) -> Any:
        """Validate ``arguments`` (JSON; empty means none) and call the function.

        Raises :class:`ToolArgumentsError` for bad arguments; the function's own
        exceptions propagate unchanged.
        """
        if not arguments or arguments.isspace():
            arguments = "{}"
        try:
            parsed = self.arguments_model.model_validate_json(arguments)
        except ValidationError as exc:
            detail = describe_validation_error(exc)
            raise ToolArgumentsError(detail) from exc
        values = parsed.__dict__
        args = [values[name] for name in self._positional]
        kwargs = {param: values[name] for name, param in self._keyword}
        if self.takes_context:
            if self._context_keyword is None:
                args.insert(0, context)
            else:
                kwargs[self._context_keyword] = context
        if self._is_async:
            return await self.func(*args, **kwargs)
        # to_thread copies the contextvars, so tracing spans etc. follow the call.
        result = await asyncio.to_thread(self.func, *args, **kwargs)
        if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
            result = await result
        return result


def function_schema(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    docstring_style: DocstringStyle | None = None,
    strict: bool = True,
) -> FunctionSchema:
    """Build the schema of ``func`` from its signature, type hints and docstring.

    A first parameter annotated as ``RunContext``/``ToolContext`` receives the
    context and is left out of the schema. With ``strict``, the schema is made
    strict when it can be, else it stays non-strict (``.strict`` says which).
    """
    inner = _strip_partials(func)
    target = _unwrap(inner)
    tool_name = name or getattr(inner, "__name__", None) or type(inner).__name__
    doc_description, param_docs = _parse_docstring(inspect.getdoc(target), docstring_style)
    hints = _type_hints(target, tool_name)

    fields: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[tuple[str, str]] = []
    takes_context = False
    context_keyword: str | None = None
    for index, param in enumerate(inspect.signature(func).parameters.values()):
        annotation = hints.get(param.name, Any)
        if _is_context_type(annotation):
            if index != 0:
                raise UserError(
                    f"tool {tool_name!r}: the context parameter {param.name!r} must come first"
                )
            takes_context = True
            if param.kind is inspect.Parameter.KEYWORD_ONLY:
                context_keyword = param.name
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise UserError(
                f"tool {tool_name!r}: *args and **kwargs cannot be described to a model; "
                "use named parameters"
            )
        internal = f"p{len(fields)}"
        default = ... if param.default is inspect.Parameter.empty else param.default
        annotated = _with_field(annotation, param.name, param_docs.get(param.name))
        fields[internal] = (annotated, default)
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            keyword.append((internal, param.name))
        else:
            positional.append(internal)

    try:
        model = create_model(
            tool_name,
            __config__=ConfigDict(extra="forbid"),
            __module__=getattr(target, "__module__", None) or __name__,
            **fields,
        )
        schema = model.model_json_schema()
    except PydanticUserError as exc:
        raise UserError(f"tool {tool_name!r}: unsupported parameter type: {exc}") from exc

    is_strict = False
    if strict:
        try:
            schema = ensure_strict_json_schema(schema)
            is_strict = True
        except StrictSchemaError:
            pass  # e.g. dict[str, Any] parameters: still usable, just not strict

    return FunctionSchema(
        name=tool_name,
        description=doc_description if description is None else description,
        json_schema=schema,
        strict=is_strict,
        takes_context=takes_context,
        arguments_model=model,
        func=func,
        return_type=hints.get("return"),
        _positional=tuple(positional),
        _keyword=tuple(keyword),
        _context_keyword=context_keyword,
        _is_async=_is_async_callable(func),
    )


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's errors in one short line: which field failed and why."""
    errors = error.errors(include_url=False)
    parts: list[str] = []
    for item in errors[:_MAX_ERRORS]:
        kind = item["type"]
        if kind == "json_invalid":
            reason = item.get("ctx", {}).get("error", item["msg"])
            parts.append(f"not valid JSON ({reason})")
            continue
        where = _location(item["loc"])
        if kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = "unexpected field"
        else:
            message = f"{item['msg']} (got {_short_repr(item['input'])})"
        parts.append(f"{where}: {message}" if where else message)
    if len(errors) > _MAX_ERRORS:
        parts.append(f"and {len(errors) - _MAX_ERRORS} more errors")
    return "; ".join(parts)


# ------------------------------------------------------------------ internals


def _strip_partials(func: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function that holds the docstring and type hints."""
    if inspect.isroutine(func) or inspect.isclass(func):
        return func
    return cast(Callable[..., Any], type(func).__call__)  # a callable object


def _type_hints(target: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    try:
        return get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for unresolvable strings, TypeError for odd objects
        raise UserError(
            f"tool {tool_name!r}: cannot resolve its type hints ({exc}); types used in "
            "annotations must be importable from the function's module"
        ) from exc


def _parse_docstring(doc: str | None, style: DocstringStyle | None) -> tuple[str, dict[str, str]]:
    if not doc:
        return "", {}
    # imported here, at tool definition time, so that `import ascent` stays light
    import docstring_parser

    chosen = docstring_parser.DocstringStyle[_STYLES[style] if style else "AUTO"]
    try:
        parsed = docstring_parser.parse(doc, style=chosen)
    except docstring_parser.ParseError:
        return doc.strip(), {}
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    return (parsed.description or "").strip(), params


def _is_context_type(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, RunContext)


def _with_field(annotation: Any, alias: str, doc: str | None) -> Any:
    """``annotation`` with the alias and a description added.

    What the annotation says wins over the docstring: a plain string in
    ``Annotated[str, "the city"]`` (the OpenAI Agents SDK's way) replaces the
    docstring's description, and an explicit ``Field(description=...)`` wins
    over both, because our ``Field`` goes before the user's own metadata.
    """
    metadata: list[Any] = []
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
    described = next((item for item in metadata if isinstance(item, str)), None)
    description = doc if described is None else described
    extra = Field(alias=alias, description=description) if description else Field(alias=alias)
    return cast(Any, Annotated)[(annotation, extra, *metadata)]


def _is_async_callable(func: Callable[..., Any]) -> bool:
    func = _strip_partials(func)
    if inspect.iscoroutinefunction(func):
        return True
    # an object whose __call__ is a coroutine function
    return inspect.iscoroutinefunction(type(func).__call__)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short_repr(value: Any) -> str:
    """The offending value as JSON, since that is what the model wrote."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:  # circular structures
        text = repr(value)
    if len(text) > _MAX_INPUT_REPR:
        text = text[: _MAX_INPUT_REPR - 3] + "..."
    return text
