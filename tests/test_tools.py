"""Function tools: schemas from signatures and docstrings, validation, invocation."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import functools
import threading
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from ascent._private.schema import FunctionSchema, ToolArgumentsError, function_schema
from ascent.context import RunContext, ToolContext
from ascent.errors import ToolTimeoutError, UserError
from ascent.models.base import FunctionToolSpec
from ascent.tools import FunctionTool, function_tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Location(BaseModel):
    city: str
    country: str | None = None


@dataclasses.dataclass
class Window:
    start: int
    end: int


class Filters(TypedDict):
    tag: str
    limit: int


@dataclasses.dataclass
class AppState:
    user: str


def tool_context(context: Any = None, *, name: str = "t") -> ToolContext[Any]:
    return ToolContext(context=context, run_id="run-1", tool_name=name, call_id="call-1")


def props(schema: FunctionSchema) -> dict[str, Any]:
    return schema.json_schema["properties"]


# ------------------------------------------------------------- schema from types


def test_primitive_types() -> None:
    def f(s: str, i: int, x: float, b: bool) -> None: ...

    schema = function_schema(f)
    assert schema.strict is True
    assert {name: p["type"] for name, p in props(schema).items()} == {
        "s": "string",
        "i": "integer",
        "x": "number",
        "b": "boolean",
    }
    assert schema.json_schema["required"] == ["s", "i", "x", "b"]
    assert schema.json_schema["additionalProperties"] is False


def test_models_dataclasses_typeddicts_and_enums() -> None:
    def f(loc: Location, window: Window, filters: Filters, unit: Unit) -> None: ...

    schema = function_schema(f)
    assert schema.strict is True
    defs = schema.json_schema["$defs"]
    assert props(schema)["loc"] == {"$ref": "#/$defs/Location"}
    assert defs["Location"]["required"] == ["city", "country"]
    assert defs["Location"]["additionalProperties"] is False
    assert defs["Window"]["properties"]["start"]["type"] == "integer"
    assert defs["Filters"]["required"] == ["tag", "limit"]
    assert defs["Unit"]["enum"] == ["celsius", "fahrenheit"]


def test_literal_optional_and_containers() -> None:
    def f(
        mode: Literal["fast", "slow"],
        note: str | None,
        tags: list[str],
        nested: list[Location],
        many: tuple[int, ...],
    ) -> None: ...

    schema = function_schema(f)
    assert schema.strict is True
    p = props(schema)
    assert p["mode"]["enum"] == ["fast", "slow"]
    assert p["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert p["tags"]["items"] == {"type": "string"}
    assert p["nested"]["items"] == {"$ref": "#/$defs/Location"}
    assert p["many"]["items"] == {"type": "integer"}


def test_defaults_are_in_the_schema_and_everything_required_when_strict() -> None:
    def f(city: str, days: int = 3, unit: Unit = Unit.CELSIUS, note: str | None = None) -> None: ...

    schema = function_schema(f)
    p = props(schema)
    assert p["days"]["default"] == 3
    assert p["unit"]["default"] == "celsius"
    assert "default" not in p["note"]
    assert schema.json_schema["required"] == ["city", "days", "unit", "note"]


def test_non_strict_request_keeps_optional_parameters_optional() -> None:
    def f(city: str, days: int = 3) -> None: ...

    schema = function_schema(f, strict=False)
    assert schema.strict is False
    assert schema.json_schema["required"] == ["city"]
    assert props(schema)["days"]["default"] == 3


@pytest.mark.parametrize(
    "annotation",
    [dict[str, Any], dict[str, int], tuple[int, str], Any],
)
def test_falls_back_to_non_strict_when_strict_is_impossible(annotation: Any) -> None:
    def f(data): ...  # type: ignore[no-untyped-def]

    f.__annotations__ = {"data": annotation}
    schema = function_schema(f, strict=True)
    assert schema.strict is False
    assert "data" in props(schema)


async def test_free_form_dict_still_validates() -> None:
    def f(data: dict[str, Any]) -> dict[str, Any]:
        return data

    schema = function_schema(f)
    assert schema.strict is False
    assert await schema.invoke(tool_context(), '{"data": {"a": [1, 2]}}') == {"a": [1, 2]}


def test_annotated_field_description_and_constraints() -> None:
    def f(
        city: Annotated[str, Field(description="City name")],
        days: Annotated[int, Field(ge=1, le=7)] = 1,
    ) -> None:
        """Forecast.

        Args:
            city: Ignored, the Field description wins.
            days: How many days.
        """

    p = props(function_schema(f))
    assert p["city"]["description"] == "City name"
    assert p["days"]["description"] == "How many days."
    assert p["days"]["minimum"] == 1 and p["days"]["maximum"] == 7


def test_annotated_string_describes_the_parameter() -> None:
    """The SDK's ``Annotated[str, "the city"]`` keeps its description in the schema."""

    @function_tool
    def forecast(
        city: Annotated[str, "the city"],
        days: Annotated[int, Field(description="how many days", ge=1)] = 1,
        unit: Annotated[str, "not used", Field(description="the unit")] = "C",
    ) -> str:
        """Forecast."""
        return city

    p = forecast.parameters["properties"]
    assert p["city"]["description"] == "the city"
    assert p["days"]["description"] == "how many days"
    assert p["days"]["minimum"] == 1
    assert p["unit"]["description"] == "the unit"  # an explicit Field wins over a string


def test_annotated_description_wins_over_the_docstring() -> None:
    def f(city: Annotated[str, "from the annotation"], country: str) -> None:
        """Forecast.

        Args:
            city: From the docstring.
            country: The country.
        """

    p = props(function_schema(f))
    assert p["city"]["description"] == "from the annotation"
    assert p["country"]["description"] == "The country."


def test_field_as_default_value() -> None:
    def f(limit: int = Field(10, description="At most this many")) -> None: ...

    schema = function_schema(f, strict=False)
    assert props(schema)["limit"] == {
        "default": 10,
        "description": "At most this many",
        "title": "Limit",
        "type": "integer",
    }


async def test_parameter_names_that_shadow_pydantic_attributes() -> None:
    def f(schema: str, json: int, model_config: bool) -> str:
        return f"{schema}-{json}-{model_config}"

    tool_schema = function_schema(f)
    assert list(props(tool_schema)) == ["schema", "json", "model_config"]
    result = await tool_schema.invoke(
        tool_context(), '{"schema": "s", "json": 1, "model_config": true}'
    )
    assert result == "s-1-True"


def test_name_and_description_overrides() -> None:
    def f(x: int) -> None:
        """Original description."""

    schema = function_schema(f, name="renamed", description="Custom.")
    assert (schema.name, schema.description) == ("renamed", "Custom.")
    assert function_schema(f).name == "f"


def test_no_docstring_means_empty_description() -> None:
    def f() -> None: ...

    schema = function_schema(f)
    assert schema.description == ""
    assert schema.json_schema["properties"] == {}


def test_var_args_are_rejected() -> None:
    def f(*items: int) -> None: ...

    def g(**options: int) -> None: ...

    with pytest.raises(UserError, match=r"\*args"):
        function_schema(f)
    with pytest.raises(UserError, match=r"\*\*kwargs"):
        function_schema(g)


def test_unresolvable_type_hint_is_a_user_error() -> None:
    def f(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(UserError, match="type hints"):
        function_schema(f)


def test_unsupported_type_is_a_user_error() -> None:
    class Opaque:
        pass

    def f(x: Opaque) -> None: ...

    f.__annotations__ = {"x": Opaque}
    with pytest.raises(UserError, match="unsupported parameter type"):
        function_schema(f)


# --------------------------------------------------------------------- docstrings


def google_style(city: str, days: int) -> None:
    """Get the forecast.

    Uses the cached provider data.

    Args:
        city: The city to look up.
        days (int): How many days ahead.

    Returns:
        The forecast text.
    """


def numpy_style(city: str, days: int) -> None:
    """Get the forecast.

    Uses the cached provider data.

    Parameters
    ----------
    city : str
        The city to look up.
    days : int
        How many days ahead.

    Returns
    -------
    str
        The forecast text.
    """


def sphinx_style(city: str, days: int) -> None:
    """Get the forecast.

    Uses the cached provider data.

    :param city: The city to look up.
    :param int days: How many days ahead.
    :returns: The forecast text.
    """


@pytest.mark.parametrize(
    ("func", "style"),
    [(google_style, "google"), (numpy_style, "numpy"), (sphinx_style, "sphinx")],
)
@pytest.mark.parametrize("explicit", [True, False])
def test_docstring_styles(func: Any, style: Any, explicit: bool) -> None:
    schema = function_schema(func, docstring_style=style if explicit else None)
    assert schema.description == "Get the forecast.\n\nUses the cached provider data."
    assert props(schema)["city"]["description"] == "The city to look up."
    assert props(schema)["days"]["description"] == "How many days ahead."


def test_explicit_style_is_honoured() -> None:
    # Read as Sphinx, a Google docstring has no parameters: its Args stay in the text.
    schema = function_schema(google_style, docstring_style="sphinx")
    assert "Args:" in schema.description
    assert "description" not in props(schema)["city"]


# ---------------------------------------------------------------- context injection


async def test_run_context_is_injected_and_excluded_from_schema() -> None:
    def f(ctx: RunContext, x: int) -> str:
        return f"{ctx.context.user}:{x}"

    schema = function_schema(f)
    assert schema.takes_context is True
    assert list(props(schema)) == ["x"]
    assert await schema.invoke(tool_context(AppState(user="ann")), '{"x": 2}') == "ann:2"


@pytest.mark.parametrize(
    "annotation", [RunContext, RunContext[AppState], ToolContext, ToolContext[AppState]]
)
async def test_every_context_annotation_is_recognised(annotation: Any) -> None:
    seen: list[Any] = []

    def f(ctx, x: int) -> None:  # type: ignore[no-untyped-def]
        seen.append(ctx)

    f.__annotations__ = {"ctx": annotation, "x": int, "return": None}
    schema = function_schema(f)
    assert schema.takes_context is True
    assert list(props(schema)) == ["x"]
    context = tool_context(AppState(user="bob"), name="f")
    await schema.invoke(context, '{"x": 1}')
    assert seen == [context]


async def test_tool_context_exposes_the_call() -> None:
    def f(ctx: ToolContext[AppState]) -> str:
        return f"{ctx.tool_name} {ctx.idempotency_key}"

    schema = function_schema(f)
    assert await schema.invoke(tool_context(name="f"), "") == "f run-1:call-1"


async def test_annotated_context_is_recognised() -> None:
    def f(ctx: Annotated[RunContext[AppState], "the run"], x: int) -> str:
        return ctx.context.user

    schema = function_schema(f)
    assert schema.takes_context is True
    assert await schema.invoke(tool_context(AppState(user="cy")), '{"x": 0}') == "cy"


def test_context_not_first_is_rejected() -> None:
    def f(x: int, ctx: RunContext) -> None: ...

    with pytest.raises(UserError, match="must come first"):
        function_schema(f)


def test_no_context_parameter() -> None:
    def f(x: int) -> None: ...

    assert function_schema(f).takes_context is False


# ----------------------------------------------------------------------- invoking


async def test_arguments_are_converted_to_their_types() -> None:
    received: dict[str, Any] = {}

    def f(
        loc: Location,
        window: Window,
        filters: Filters,
        unit: Unit,
        pair: tuple[int, ...],
        days: int = 3,
    ) -> None:
        received.update(loc=loc, window=window, filters=filters, unit=unit, pair=pair, days=days)

    schema = function_schema(f)
    await schema.invoke(
        tool_context(),
        '{"loc": {"city": "Oslo", "country": null}, "window": {"start": 1, "end": 2},'
        ' "filters": {"tag": "x", "limit": 5}, "unit": "fahrenheit", "pair": [1, 2], "days": 4}',
    )
    assert received == {
        "loc": Location(city="Oslo"),
        "window": Window(start=1, end=2),
        "filters": {"tag": "x", "limit": 5},
        "unit": Unit.FAHRENHEIT,
        "pair": (1, 2),
        "days": 4,
    }


async def test_defaults_fill_in_missing_arguments() -> None:
    def f(city: str, days: int = 3, note: str | None = None) -> tuple[str, int, str | None]:
        return city, days, note

    assert await function_schema(f).invoke(tool_context(), '{"city": "Rome"}') == ("Rome", 3, None)


async def test_positional_only_and_keyword_only_parameters() -> None:
    def f(a: int, /, b: int, *, c: int) -> str:
        return f"{a}{b}{c}"

    schema = function_schema(f)
    assert list(props(schema)) == ["a", "b", "c"]
    assert await schema.invoke(tool_context(), '{"c": 3, "b": 2, "a": 1}') == "123"


@pytest.mark.parametrize("empty", ["", "   ", "{}"])
async def test_empty_arguments_mean_no_arguments(empty: str) -> None:
    def f() -> str:
        return "ok"

    assert await function_schema(f).invoke(tool_context(), empty) == "ok"


async def test_sync_tool_runs_in_a_worker_thread_with_contextvars() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("from-caller")
    seen: dict[str, Any] = {}

    def f() -> None:
        seen["thread"] = threading.get_ident()
        seen["var"] = var.get()

    await function_schema(f).invoke(tool_context(), "{}")
    assert seen["thread"] != threading.get_ident()
    assert seen["var"] == "from-caller"


async def test_async_tool_is_awaited_on_the_event_loop() -> None:
    seen: dict[str, Any] = {}

    async def f(x: int) -> int:
        seen["thread"] = threading.get_ident()
        await asyncio.sleep(0)
        return x * 2

    assert await function_schema(f).invoke(tool_context(), '{"x": 21}') == 42
    assert seen["thread"] == threading.get_ident()


async def test_async_callable_object_and_partial() -> None:
    class Adder:
        async def __call__(self, x: int) -> int:
            return x + 1

    async def scale(factor: int, x: int) -> int:
        return factor * x

    adder = function_schema(Adder())
    assert adder.name == "Adder"
    assert await adder.invoke(tool_context(), '{"x": 1}') == 2
    triple = function_schema(functools.partial(scale, 3))
    assert triple.name == "scale"
    assert list(props(triple)) == ["x"]
    assert await triple.invoke(tool_context(), '{"x": 5}') == 15


async def test_bound_method_tool() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def add(self, n: int) -> int:
            """Add n."""
            self.total += n
            return self.total

    counter = Counter()
    schema = function_schema(counter.add)
    assert schema.name == "add" and list(props(schema)) == ["n"]
    assert await schema.invoke(tool_context(), '{"n": 4}') == 4


async def test_function_exceptions_propagate_unchanged() -> None:
    class Boom(RuntimeError):
        pass

    def f() -> None:
        raise Boom("kaput")

    async def g() -> None:
        raise Boom("async kaput")

    with pytest.raises(Boom, match="kaput"):
        await function_schema(f).invoke(tool_context(), "")
    with pytest.raises(Boom, match="async kaput"):
        await function_schema(g).invoke(tool_context(), "")


# ------------------------------------------------------------ invalid arguments


def get_weather(city: str, days: int, loc: Location | None = None, tags: list[str] = []) -> None:  # noqa: B006
    """Weather."""


async def invalid(arguments: str) -> str:
    with pytest.raises(ToolArgumentsError) as info:
        await function_schema(get_weather).invoke(tool_context(), arguments)
    assert isinstance(info.value, ValueError)
    return str(info.value)


async def test_missing_argument_is_named() -> None:
    message = await invalid('{"days": 1}')
    # the tool is named by whoever reports the error (the runner, the MCP server)
    assert message == "city: required field is missing"


async def test_wrong_type_names_field_reason_and_value() -> None:
    message = await invalid('{"city": "Oslo", "days": "soon"}')
    assert "days: Input should be a valid integer" in message
    assert '(got "soon")' in message


async def test_nested_and_indexed_locations() -> None:
    message = await invalid('{"city": "a", "days": 1, "loc": {"city": 5}, "tags": ["x", 3]}')
    assert "loc.city: Input should be a valid string" in message
    assert "tags[1]: Input should be a valid string" in message


async def test_unexpected_argument_is_reported() -> None:
    message = await invalid('{"city": "a", "days": 1, "dayz": 2}')
    assert "dayz: unexpected field" in message


@pytest.mark.parametrize("bad", ['{"city": ', "not json", "{'city': 'a'}"])
async def test_malformed_json(bad: str) -> None:
    message = await invalid(bad)
    assert "not valid JSON" in message


async def test_non_object_json() -> None:
    assert "Input should be an object (got [1, 2])" in await invalid("[1, 2]")
    assert "Input should be an object (got null)" in await invalid("null")


async def test_long_values_and_many_errors_keep_the_message_short() -> None:
    def many(a: int, b: int, c: int, d: int, e: int, f: int, g: int) -> None: ...

    arguments = "{" + ", ".join(f'"{k}": "{"x" * 500}"' for k in "abcdefg") + "}"
    with pytest.raises(ToolArgumentsError) as info:
        await function_schema(many).invoke(tool_context(), arguments)
    message = str(info.value)
    assert len(message) < 800
    assert "and 2 more errors" in message
    assert "..." in message


async def test_validation_happens_before_the_call() -> None:
    calls: list[int] = []

    def f(x: int) -> None:
        calls.append(x)

    with pytest.raises(ToolArgumentsError):
        await function_schema(f).invoke(tool_context(), '{"x": "nope"}')
    assert calls == []


def test_arguments_model_is_built_once() -> None:
    def f(x: int) -> None: ...

    schema = function_schema(f)
    model = schema.arguments_model
    assert model.model_validate_json('{"x": 1}').__dict__ == {"p0": 1}
    assert schema.arguments_model is model


# ------------------------------------------------------------------ function_tool


@function_tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return a + b


async def test_bare_decorator_builds_a_function_tool() -> None:
    assert isinstance(add, FunctionTool)
    assert add.name == "add"
    assert add.description == "Add two numbers."
    assert add.strict is True
    assert add.parameters["properties"]["a"]["description"] == "First number."
    assert add.spec() == FunctionToolSpec(
        name="add", description="Add two numbers.", parameters=add.parameters, strict=True
    )
    assert await add.invoke(tool_context(), '{"a": 2, "b": 3}') == 5


async def test_decorator_with_options() -> None:
    @function_tool(name="lookup", description="Find a record.", strict=False)
    def find(key: str) -> str:
        """Ignored docstring."""
        return key.upper()

    assert (find.name, find.description, find.strict) == ("lookup", "Find a record.", False)
    assert find.parameters["required"] == ["key"]
    assert await find.invoke(tool_context(), '{"key": "k"}') == "K"


async def test_decorator_reports_strict_fallback() -> None:
    @function_tool
    def store(data: dict[str, Any]) -> None: ...

    assert store.strict is False
    assert store.spec().strict is False


async def test_tool_invoke_raises_argument_errors() -> None:
    with pytest.raises(ToolArgumentsError, match="a: required field is missing"):
        await add.invoke(tool_context(), "{}")


async def test_timeout_raises_tool_timeout_error() -> None:
    @function_tool(timeout=0.05)
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    @function_tool(timeout=5)
    async def quick() -> str:
        return "on time"

    with pytest.raises(ToolTimeoutError, match="'slow' timed out"):
        await slow.invoke(tool_context(), "")
    assert await quick.invoke(tool_context(), "") == "on time"


async def test_needs_approval_bool() -> None:
    @function_tool(needs_approval=True)
    def delete(path: str) -> None: ...

    run_context: RunContext[Any] = RunContext(context=None)
    assert await delete.requires_approval(run_context, '{"path": "/"}') is True
    assert await add.requires_approval(run_context, '{"a": 1}') is False


async def test_needs_approval_callable_sees_parsed_arguments() -> None:
    seen: list[dict[str, Any]] = []

    def only_big(context: RunContext[Any], arguments: dict[str, Any]) -> bool:
        seen.append(arguments)
        return arguments.get("amount", 0) > 100

    async def async_check(context: RunContext[Any], arguments: dict[str, Any]) -> bool:
        return context.context == "strict-mode"

    @function_tool(needs_approval=only_big)
    def pay(amount: int) -> None: ...

    @function_tool(needs_approval=async_check)
    def refund(amount: int) -> None: ...

    ctx: RunContext[Any] = RunContext(context="strict-mode")
    assert await pay.requires_approval(ctx, '{"amount": 500}') is True
    assert await pay.requires_approval(ctx, '{"amount": 5}') is False
    assert await pay.requires_approval(ctx, "not json") is False
    assert seen == [{"amount": 500}, {"amount": 5}, {}]
    assert await refund.requires_approval(ctx, "{}") is True
    assert await refund.requires_approval(RunContext(context=None), "{}") is False


async def test_needs_approval_accepts_the_sdk_three_argument_form() -> None:
    seen: list[str] = []

    def check(context: RunContext[Any], arguments: dict[str, Any], call_id: str) -> bool:
        seen.append(call_id)
        return arguments.get("amount", 0) > 100

    @function_tool(needs_approval=check)
    def pay(amount: int) -> None: ...

    ctx: RunContext[Any] = RunContext(context=None)
    assert await pay.requires_approval(ctx, '{"amount": 500}', "call_7") is True
    assert await pay.requires_approval(ctx, '{"amount": 5}', "call_8") is False
    assert seen == ["call_7", "call_8"]


@pytest.mark.parametrize(
    "check",
    [
        lambda: True,
        lambda context: True,
        lambda context, arguments, call_id, extra: True,
        "yes",
    ],
    ids=["none", "one", "four", "not-callable"],
)
def test_needs_approval_with_the_wrong_parameters_is_refused_when_built(check: Any) -> None:
    with pytest.raises(UserError, match=r"\(context, arguments, call_id\)"):

        @function_tool(needs_approval=check)
        def pay(amount: int) -> None: ...


def test_agent_tool_approval_check_is_refused_when_built() -> None:
    from ascent import Agent

    with pytest.raises(UserError, match="needs_approval takes"):
        Agent(name="inner").as_tool(needs_approval=lambda: True)  # type: ignore[arg-type]
