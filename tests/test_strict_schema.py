"""ensure_strict_json_schema: the rewrites OpenAI's strict mode needs, and its refusals."""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ascent._private.strict_schema import StrictSchemaError, ensure_strict_json_schema


class Address(BaseModel):
    street: str
    zip_code: str | None = None


class Person(BaseModel):
    name: str
    age: int = 30
    address: Address
    home: Address | None = None
    work: Annotated[Address, Field(description="Where they work")]


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


class Owner(BaseModel):
    pet: Cat | Dog = Field(discriminator="kind")


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


def strict_of(tp: Any) -> dict[str, Any]:
    return ensure_strict_json_schema(TypeAdapter(tp).json_schema())


def test_every_object_is_closed_and_fully_required() -> None:
    schema = strict_of(Person)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "age", "address", "home", "work"]
    address = schema["$defs"]["Address"]
    assert address["additionalProperties"] is False
    assert address["required"] == ["street", "zip_code"]


def test_input_is_not_mutated() -> None:
    original = TypeAdapter(Person).json_schema()
    snapshot = copy.deepcopy(original)
    result = ensure_strict_json_schema(original)
    assert original == snapshot
    assert result is not original
    assert "additionalProperties" not in original["$defs"]["Address"]


def test_ref_with_siblings_is_inlined_and_made_strict() -> None:
    work = strict_of(Person)["properties"]["work"]
    assert "$ref" not in work
    assert work["description"] == "Where they work"
    assert work["type"] == "object"
    assert work["additionalProperties"] is False
    assert work["required"] == ["street", "zip_code"]


def test_plain_ref_is_kept() -> None:
    assert strict_of(Person)["properties"]["address"] == {"$ref": "#/$defs/Address"}


def test_none_default_removed_other_defaults_kept() -> None:
    schema = strict_of(Person)
    assert "default" not in schema["properties"]["home"]
    assert "default" not in schema["$defs"]["Address"]["properties"]["zip_code"]
    assert schema["properties"]["age"]["default"] == 30


def test_one_of_becomes_any_of_and_discriminator_dropped() -> None:
    raw = TypeAdapter(Owner).json_schema()["properties"]["pet"]
    assert "oneOf" in raw and "discriminator" in raw  # what pydantic emits
    pet = strict_of(Owner)["properties"]["pet"]
    assert "oneOf" not in pet
    assert "discriminator" not in pet
    assert pet["anyOf"] == [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]


def test_nested_array_items_and_any_of_variants_are_processed() -> None:
    schema = ensure_strict_json_schema(
        {
            "type": "object",
            "properties": {
                "rows": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"x": {"type": "integer"}}},
                },
                "either": {
                    "anyOf": [
                        {"type": "object", "properties": {"y": {"type": "string"}}},
                        {"type": "null"},
                    ]
                },
            },
        }
    )
    row = schema["properties"]["rows"]["items"]
    assert row["additionalProperties"] is False and row["required"] == ["x"]
    variant = schema["properties"]["either"]["anyOf"][0]
    assert variant["additionalProperties"] is False and variant["required"] == ["y"]


def test_recursive_models_keep_their_refs() -> None:
    schema = strict_of(Node)
    node = schema["$defs"]["Node"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert node["required"] == ["value", "children"]
    assert node["additionalProperties"] is False


def test_single_all_of_is_merged() -> None:
    schema = ensure_strict_json_schema(
        {
            "$defs": {"A": {"type": "object", "properties": {"a": {"type": "integer"}}}},
            "type": "object",
            "properties": {"x": {"allOf": [{"$ref": "#/$defs/A"}], "description": "an A"}},
        }
    )
    x = schema["properties"]["x"]
    assert "allOf" not in x and "$ref" not in x
    assert x["description"] == "an A"
    assert x["required"] == ["a"] and x["additionalProperties"] is False


def test_explicitly_closed_objects_are_accepted() -> None:
    schema = ensure_strict_json_schema(
        {"type": "object", "properties": {}, "additionalProperties": False}
    )
    assert schema == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_nullable_object_type_list_is_closed() -> None:
    schema = ensure_strict_json_schema(
        {"type": ["object", "null"], "properties": {"a": {"type": "string"}}}
    )
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["a"]


@pytest.mark.parametrize(
    ("tp", "reason"),
    [
        (dict[str, int], "additionalProperties"),
        (dict[str, Any], "additionalProperties"),
        (Loose, "additionalProperties"),
        (tuple[int, str], "prefixItems"),
        (list[Any], "without a type"),
    ],
)
def test_what_cannot_be_strict_raises(tp: Any, reason: str) -> None:
    with pytest.raises(StrictSchemaError, match=reason):
        strict_of(tp)


def test_nested_free_form_mapping_is_refused_with_its_path() -> None:
    class Holder(BaseModel):
        data: dict[str, int]

    with pytest.raises(StrictSchemaError, match="properties/data"):
        strict_of(Holder)


def test_variable_length_tuple_is_fine() -> None:
    assert strict_of(tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}


def test_several_all_of_entries_are_refused() -> None:
    with pytest.raises(StrictSchemaError, match="allOf"):
        ensure_strict_json_schema({"allOf": [{"type": "string"}, {"minLength": 1}]})


def test_strict_schema_error_is_a_value_error() -> None:
    assert issubclass(StrictSchemaError, ValueError)


def test_non_dict_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        ensure_strict_json_schema(["not", "a", "schema"])  # type: ignore[arg-type]
