"""OutputSchema: structured-output specs, validation, and storage round-trips."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from ascent import Agent, OutputType, Runner
from ascent._private.output import OutputSchema, OutputValidationError, output_schema_for
from ascent.errors import UserError
from ascent.models.base import OutputSpec
from ascent.testing import ScriptedModel


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Review(BaseModel):
    title: str
    stars: int
    mood: Mood
    written: dt.date
    note: str | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float
    tags: tuple[str, ...] = ()


class Summary(TypedDict):
    text: str
    words: int


class Cat(BaseModel):
    meow: bool


class Dog(BaseModel):
    woof: bool


REVIEW = Review(title="Fine", stars=4, mood=Mood.HAPPY, written=dt.date(2024, 5, 1))
REVIEW_JSON = (
    '{"title": "Fine", "stars": 4, "mood": "happy", "written": "2024-05-01", "note": null}'
)


# ------------------------------------------------------------------ plain text


@pytest.mark.parametrize("output_type", [str, None])
def test_plain_text(output_type: Any) -> None:
    schema = OutputSchema(output_type)
    assert schema.is_plain_text is True
    assert schema.validate_json("just words, {not json") == "just words, {not json"
    assert schema.dump("hello") == "hello"
    assert schema.load("hello") == "hello"
    with pytest.raises(UserError, match="plain-text"):
        schema.spec()


# ------------------------------------------------------------ object types


def test_pydantic_model() -> None:
    schema = OutputSchema(Review)
    assert schema.is_plain_text is False
    assert schema.is_wrapped is False
    spec = schema.spec()
    assert isinstance(spec, OutputSpec)
    assert spec.name == "Review"
    assert spec.strict is True
    assert spec.schema["additionalProperties"] is False
    assert spec.schema["required"] == ["title", "stars", "mood", "written", "note"]
    value = schema.validate_json(REVIEW_JSON)
    assert value == REVIEW
    assert isinstance(value, Review)


def test_dataclass() -> None:
    schema = OutputSchema(Point)
    assert schema.is_wrapped is False
    assert schema.spec().strict is True
    assert schema.spec().schema["required"] == ["x", "y", "tags"]
    assert schema.validate_json('{"x": 1, "y": 2.5, "tags": ["a"]}') == Point(1, 2.5, ("a",))


def test_typed_dict() -> None:
    schema = OutputSchema(Summary)
    assert schema.is_wrapped is False
    assert schema.spec().name == "Summary"
    assert schema.validate_json('{"text": "hi", "words": 1}') == {"text": "hi", "words": 1}


def test_free_form_dict_is_not_strict_and_not_wrapped() -> None:
    schema = OutputSchema(OutputType(dict[str, int], strict=False))
    assert schema.is_wrapped is False
    spec = schema.spec()
    assert spec.strict is False
    assert spec.schema == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert spec.name == "dict_str_int"
    assert schema.validate_json('{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    ("output_type", "shown"),
    [(dict[str, int], "dict[str, int]"), (tuple[int, str], "tuple[int, str]"), (Any, "Any")],
)
def test_a_type_without_a_strict_schema_is_refused_unless_asked(
    output_type: Any, shown: str
) -> None:
    with pytest.raises(UserError) as raised:
        OutputSchema(output_type)
    message = str(raised.value)
    assert f"output_type {shown} has no strict JSON schema" in message
    assert f"OutputType({shown}, strict=False)" in message


def test_a_strict_type_can_be_asked_for_non_strict() -> None:
    schema = OutputSchema(OutputType(Review, strict=False))
    assert schema.spec().strict is False
    assert "additionalProperties" not in schema.spec().schema  # left as Pydantic wrote it
    assert schema.validate_json(REVIEW_JSON) == REVIEW
    assert OutputSchema(OutputType(Review)).spec().strict is True


def test_agent_refuses_a_non_strict_output_type_when_built() -> None:
    with pytest.raises(UserError, match=r"agent 'Tally': output_type dict\[str, int\]"):
        Agent(name="Tally", output_type=dict[str, int])
    agent = Agent(name="Tally", output_type=OutputType(dict[str, int], strict=False))
    assert agent.output_type.strict is False


async def test_a_non_strict_output_type_runs() -> None:
    model = ScriptedModel(['{"apples": 3}'])
    agent = Agent(name="Tally", model=model, output_type=OutputType(dict[str, int], strict=False))
    result = await Runner.run(agent, "count")
    assert result.final_output == {"apples": 3}
    output = model.requests[0].output
    assert output is not None and output.strict is False


# ------------------------------------------------------------ wrapped types


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (int, '{"response": 42}', 42),
        (float, '{"response": 2.5}', 2.5),
        (bool, '{"response": true}', True),
        (Literal["yes", "no"], '{"response": "no"}', "no"),
        (list[int], '{"response": [1, 2]}', [1, 2]),
        (list[Review], '{"response": [' + REVIEW_JSON + "]}", [REVIEW]),
        (Cat | Dog, '{"response": {"woof": true}}', Dog(woof=True)),
        (Mood, '{"response": "sad"}', Mood.SAD),
    ],
)
def test_non_object_types_are_wrapped(output_type: Any, text: str, expected: Any) -> None:
    schema = OutputSchema(output_type)
    assert schema.is_wrapped is True
    spec = schema.spec()
    assert spec.strict is True
    assert spec.schema["type"] == "object"
    assert spec.schema["required"] == ["response"]
    assert spec.schema["additionalProperties"] is False
    assert schema.validate_json(text) == expected


def test_wrapped_schema_content() -> None:
    spec = OutputSchema(Literal["yes", "no"]).spec()
    assert spec.schema["properties"]["response"]["enum"] == ["yes", "no"]
    assert spec.name == "yes_or_no"


def test_wrapped_non_strict_type() -> None:
    schema = OutputSchema(OutputType(tuple[int, str], strict=False))
    assert schema.is_wrapped is True
    assert schema.spec().strict is False
    assert schema.validate_json('{"response": [1, "a"]}') == (1, "a")


def test_bare_value_is_accepted_for_wrapped_types() -> None:
    assert OutputSchema(int).validate_json("42") == 42
    assert OutputSchema(list[str]).validate_json('["a", "b"]') == ["a", "b"]


def test_code_fenced_json_is_accepted() -> None:
    fenced = "```json\n" + REVIEW_JSON + "\n```"
    assert OutputSchema(Review).validate_json(fenced) == REVIEW
    assert OutputSchema(int).validate_json('```\n{"response": 7}\n```') == 7
    assert OutputSchema(int).validate_json("```json\n7\n```") == 7


# --------------------------------------------------------------- invalid output


def test_invalid_output_names_the_field() -> None:
    with pytest.raises(OutputValidationError) as info:
        OutputSchema(Review).validate_json('{"title": "x", "stars": "many", "mood": "happy"}')
    message = str(info.value)
    assert message.startswith("final output does not match Review:")
    assert (
        'stars: Input should be a valid integer, unable to parse string as an integer (got "many")'
        in message
    )
    assert "written: required field is missing" in message
    assert isinstance(info.value, ValueError)


def test_invalid_wrapped_output_reports_the_wrapped_attempt() -> None:
    with pytest.raises(OutputValidationError, match=r"response: Input should be 'yes' or 'no'"):
        OutputSchema(Literal["yes", "no"]).validate_json('{"response": "maybe"}')


def test_not_json_at_all() -> None:
    with pytest.raises(OutputValidationError, match="not valid JSON"):
        OutputSchema(Review).validate_json("Sure! Here is your review.")


# -------------------------------------------------------------- dump and load


@pytest.mark.parametrize(
    ("output_type", "value", "dumped"),
    [
        (
            Review,
            REVIEW,
            {"title": "Fine", "stars": 4, "mood": "happy", "written": "2024-05-01", "note": None},
        ),
        (Point, Point(1.0, 2.0, ("a", "b")), {"x": 1.0, "y": 2.0, "tags": ["a", "b"]}),
        (Summary, {"text": "t", "words": 2}, {"text": "t", "words": 2}),
        (
            list[Review],
            [REVIEW],
            [{"title": "Fine", "stars": 4, "mood": "happy", "written": "2024-05-01", "note": None}],
        ),
        (
            OutputType(dict[str, dt.date], strict=False),
            {"d": dt.date(2020, 1, 2)},
            {"d": "2020-01-02"},
        ),
        (int, 3, 3),
        (Literal["a", "b"], "b", "b"),
        (Mood, Mood.SAD, "sad"),
        (OutputType(tuple[int, str], strict=False), (1, "x"), [1, "x"]),
        (Cat | Dog, Dog(woof=False), {"woof": False}),
    ],
)
def test_dump_load_round_trip(output_type: Any, value: Any, dumped: Any) -> None:
    schema = OutputSchema(output_type)
    data = schema.dump(value)
    assert data == dumped
    restored = schema.load(data)
    assert restored == value
    assert type(restored) is type(value)


def test_load_works_for_strict_models() -> None:
    class StrictStamp(BaseModel, strict=True):
        at: dt.datetime
        mood: Mood

    schema = OutputSchema(StrictStamp)
    value = StrictStamp(at=dt.datetime(2024, 1, 1, 12, 0), mood=Mood.HAPPY)
    assert schema.load(schema.dump(value)) == value


def test_load_rejects_bad_data() -> None:
    with pytest.raises(OutputValidationError, match="stored output"):
        OutputSchema(Review).load({"title": 1})


# ------------------------------------------------------------------- misc


def test_unsupported_type_is_a_user_error() -> None:
    class Opaque:
        pass

    with pytest.raises(UserError, match="not supported"):
        OutputSchema(Opaque)


def test_names_are_valid_response_format_names() -> None:
    class AVeryLongModelNameThatKeepsGoingAndGoingAndGoingWellPastTheLimit(BaseModel):
        x: int

    long_name = OutputSchema(
        list[AVeryLongModelNameThatKeepsGoingAndGoingAndGoingWellPastTheLimit]
    ).name
    assert len(long_name) == 64
    assert long_name.startswith("list_AVeryLong")
    assert OutputSchema(int | None).name == "int_or_None"
    assert OutputSchema(Annotated[int, Field(ge=0)]).name == "int"
    for name in (long_name, OutputSchema(OutputType(dict[str, list[int]], strict=False)).name):
        assert all(c.isalnum() or c in "_-" for c in name)


def test_annotated_constraints_are_validated() -> None:
    schema = OutputSchema(Annotated[int, Field(ge=0)])
    assert schema.spec().schema["properties"]["response"]["minimum"] == 0
    with pytest.raises(OutputValidationError, match="greater than or equal to 0"):
        schema.validate_json('{"response": -1}')


def test_output_schema_for_caches_per_type() -> None:
    first = output_schema_for(Review)
    assert output_schema_for(Review) is first
    assert output_schema_for(list[int]) is output_schema_for(list[int])
    assert output_schema_for(list[int]) is not output_schema_for(list[str])


def test_output_schema_for_unhashable_type_expression() -> None:
    unhashable = Annotated[int, {"not": "hashable"}]
    with pytest.raises(TypeError):
        hash(unhashable)
    schema = output_schema_for(unhashable)
    assert schema.validate_json('{"response": 5}') == 5
