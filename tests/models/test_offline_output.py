"""The offline model's structured output: every required field, valid, from the conversation."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from decimal import Decimal
from enum import IntEnum
from ipaddress import IPv4Address
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, create_model

from ascent import Agent, Runner, function_tool
from ascent.items import FunctionCall, FunctionCallOutput, Item, Message
from ascent.models import FunctionToolSpec, ModelRequest, ModelSettings, OutputSpec
from ascent.models.offline import OfflineModel

MODEL = OfflineModel()


async def answer(
    items: str | list[Item], output: type[BaseModel], *, strict: bool = True
) -> dict[str, Any]:
    """The offline model's final JSON for ``output``, after checking it validates."""
    if isinstance(items, str):
        items = [Message(role="user", content=items)]
    response = await MODEL.respond(
        ModelRequest(
            instructions=None,
            input=items,
            output=OutputSpec(name="out", schema=output.model_json_schema(), strict=strict),
            settings=ModelSettings(),
        )
    )
    [message] = response.output
    assert isinstance(message, Message)
    output.model_validate_json(message.text)
    data: dict[str, Any] = json.loads(message.text)
    return data


def after_tool(user: str, result: Any, name: str = "lookup") -> list[Item]:
    return [
        Message(role="user", content=user),
        FunctionCall(call_id="c1", name=name, arguments="{}"),
        FunctionCallOutput(call_id="c1", output=json.dumps(result)),
    ]


# ------------------------------------------------------- from tool results


class Location(BaseModel):
    city: str
    country: str = Field(min_length=2, max_length=2)


class Day(BaseModel):
    day: date
    high: float
    summary: str


class Forecast(BaseModel):
    location: Location
    days: list[Day]
    temperature: float = Field(description="Now, in degrees Celsius")
    alert: bool
    source: str


FORECAST = {
    "location": {"city": "Oslo", "country": "NO"},
    "days": [
        {"day": "2025-01-01", "high": 3.5, "summary": "snow"},
        {"day": "2025-01-02", "high": "4", "summary": "sleet"},
    ],
    "celsius_degrees": -2,
    "alert": True,
    "station": {"source": "met.no"},
}


async def test_fields_take_what_the_tool_returned_under_their_names() -> None:
    forecast = await answer(after_tool("Weather in Oslo?", FORECAST), Forecast)
    assert forecast["location"] == {"city": "Oslo", "country": "NO"}
    assert forecast["days"] == [
        {"day": "2025-01-01", "high": 3.5, "summary": "snow"},
        {"day": "2025-01-02", "high": 4, "summary": "sleet"},  # "4" read as the number
    ]
    assert forecast["temperature"] == -2  # its description's words name the key
    assert forecast["alert"] is True
    assert forecast["source"] == "met.no"  # found nested


async def test_a_value_that_does_not_fit_is_not_taken() -> None:
    wrong = {"location": {"city": "Oslo", "country": "Norway"}, "alert": "maybe"}
    forecast = await answer(after_tool("Weather in Oslo? no alert", wrong), Forecast)
    assert forecast["location"]["city"] == "Oslo"  # the object is still read field by field
    assert len(forecast["location"]["country"]) == 2  # "Norway" is too long
    assert forecast["alert"] is False


async def test_the_newest_tool_result_wins() -> None:
    items = [
        *after_tool("where?", {"city": "Rome", "country": "IT"}),
        FunctionCall(call_id="c2", name="lookup", arguments="{}"),
        FunctionCallOutput(call_id="c2", output=json.dumps({"city": "Bern", "country": "CH"})),
    ]
    assert await answer(items, Location) == {"city": "Bern", "country": "CH"}


async def test_a_failed_tool_result_is_not_data() -> None:
    items: list[Item] = [
        Message(role="user", content="where?"),
        FunctionCall(call_id="c1", name="lookup", arguments="{}"),
        FunctionCallOutput(call_id="c1", output='{"city": "Nowhere"}', is_error=True),
    ]
    assert (await answer(items, Location))["city"] != "Nowhere"


# ---------------------------------------------------------------- from text


class Contact(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    city: str
    newsletter: bool
    plan: Literal["free", "pro", "team"]


async def test_fields_take_values_the_text_labels_with_their_names() -> None:
    text = "I do not like calls. My name is Ana, age: 34, the city is Lisbon and newsletter: yes"
    contact = await answer(text + ", plan = team", Contact)
    assert contact == {
        "name": "Ana",
        "age": 34,
        "city": "Lisbon",
        "newsletter": True,  # labelled, though "not" is elsewhere in the text
        "plan": "team",
    }


class Trip(BaseModel):
    people: int
    nights: int
    when: str
    contact_email: str


async def test_a_number_goes_to_the_field_its_word_names() -> None:
    trip = await answer("5 nights for 3 people from 2025-06-01, write to ana@example.com", Trip)
    assert (trip["people"], trip["nights"]) == (3, 5)
    assert trip["when"] == "2025-06-01"  # a date, not the numbers 2025, 6 and 1
    assert trip["contact_email"] == "ana@example.com"


class Reading(BaseModel):
    temperature: float = Field(description="In degrees Celsius")
    rain: float = Field(description="Millimetres of rain")
    is_windy: bool
    frost: bool


async def test_a_number_goes_to_the_field_its_description_names() -> None:
    reading = await answer("Rain 4 mm, 21 degrees, windy all day", Reading)
    assert (reading["temperature"], reading["rain"]) == (21, 4)  # "4 mm": handed out in order
    assert reading["is_windy"] is True  # the field's word is in the text
    assert reading["frost"] is False


async def test_a_no_in_the_text_keeps_booleans_false() -> None:
    reading = await answer("21 degrees, not windy", Reading)
    assert reading["is_windy"] is False


# ------------------------------------------------------- constrained fields


class Priority(IntEnum):
    LOW = 1
    HIGH = 3


class Booking(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{3}-\d{2}$")
    zip_code: str = Field(pattern=r"^\d{5}$")
    pin: str = Field(pattern=r"^[a-f]{4}\d$")
    guests: int = Field(ge=1, le=8)
    rating: float = Field(gt=0, lt=1)
    rooms: int = Field(multiple_of=2, gt=0)
    tags: list[str] = Field(min_length=2, max_length=3)
    seats: set[int] = Field(min_length=3)
    title: str = Field(min_length=20, max_length=30)
    at: time
    stay: timedelta
    host: IPv4Address
    price: Decimal
    priority: Priority
    contact: Contact | None
    nights: list[Trip] = Field(min_length=1)


async def test_constrained_fields_all_validate() -> None:
    text = "Book ABC-12 for 3 guests near 75001, host 10.0.0.7 at 18:30"
    booking = await answer(text, Booking)
    assert booking["code"] == "ABC-12"
    assert booking["zip_code"] == "75001"
    assert booking["pin"] == "aaaa0"  # nothing in the text matches: written to fit
    assert booking["guests"] == 3
    assert 0 < booking["rating"] < 1
    assert booking["rooms"] > 0 and booking["rooms"] % 2 == 0
    assert len(set(booking["seats"])) >= 3
    assert 20 <= len(booking["title"]) <= 30
    assert booking["at"] == "18:30"
    assert booking["host"] == "10.0.0.7"
    assert set(booking["contact"]) == set(Contact.model_fields)
    assert set(booking) == set(Booking.model_fields)  # every field, the optional one too


@pytest.mark.parametrize(
    "pattern",
    [r"^[A-Z]{2}\d{3,}$", r"^(?:\+33|0)[1-9](\d{2}){4}$", r"^x+$", r"^[^@\s]+@[^@\s]+\.\w{2,}$"],
)
async def test_a_pattern_nothing_in_the_text_matches_is_written_to_fit(pattern: str) -> None:
    model = create_model("Coded", value=(str, Field(pattern=pattern)))
    await answer("nothing useful here", model)  # answer() validates


async def test_a_non_strict_output_gets_every_required_field() -> None:
    class Loose(BaseModel):
        counts: dict[str, int]  # free-form keys: the schema cannot be strict
        label: str
        contact: Contact
        note: str | None = None

    loose = await answer("label: groceries, age: 41", Loose, strict=False)
    assert set(loose) == {"counts", "label", "contact"}  # the required ones
    assert loose["label"] == "groceries"
    assert loose["contact"]["age"] == 41


# --------------------------------------------------------------- in a run


class Weather(BaseModel):
    city: str
    temperature_c: float
    conditions: str


@function_tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather for a city."""
    return {"city": "Paris", "temperature_c": 21.5, "conditions": "sunny"}


class Row(BaseModel):
    sku: str
    stock: int


@function_tool
def list_stock() -> list[Row]:
    """List the stock of every product."""
    return [Row(sku="MUG-1", stock=4), Row(sku="CUP-2", stock=0)]


async def test_a_run_returns_the_tool_values_in_its_output_type() -> None:
    agent = Agent(name="Weather", tools=[get_weather], output_type=Weather, model="offline")
    result = await Runner.run(agent, "What's the weather in Paris?")
    assert result.final_output == Weather(city="Paris", temperature_c=21.5, conditions="sunny")


async def test_a_wrapped_output_type_takes_a_whole_tool_result() -> None:
    agent = Agent(name="Stock", tools=[list_stock], output_type=list[Row], model="offline")
    result = await Runner.run(agent, "List the stock")
    assert result.final_output == [Row(sku="MUG-1", stock=4), Row(sku="CUP-2", stock=0)]


async def test_tool_arguments_use_labelled_values_and_patterns() -> None:
    class Move(BaseModel):
        city: str
        postcode: str = Field(pattern=r"^\d{4}$")

    tool = FunctionToolSpec(name="move", description="Move", parameters=Move.model_json_schema())
    response = await MODEL.respond(
        ModelRequest(
            instructions=None,
            input=[Message(role="user", content="Move me: the city is Bern, 3011 please")],
            tools=[tool],
            settings=ModelSettings(),
        )
    )
    [call] = response.output
    assert isinstance(call, FunctionCall)
    assert Move.model_validate_json(call.arguments) == Move(city="Bern", postcode="3011")


# ------------------------------------------------------------------- unions


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    breed: str


class Household(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    other: Cat | Dog
    parent: Household | None


async def test_a_union_member_is_chosen_by_the_tag_the_data_or_text_names() -> None:
    told = await answer("We have a dog", Household)
    assert told["pet"]["kind"] == told["other"]["kind"] == "dog"
    assert (await answer("nothing about animals", Household))["pet"]["kind"] == "cat"
    returned = {"pet": {"kind": "dog", "breed": "collie"}, "other": {"kind": "cat", "lives": 3}}
    household = await answer(after_tool("We have a dog", returned), Household)
    assert household["pet"] == {"kind": "dog", "breed": "collie"}
    assert household["other"] == {"kind": "cat", "lives": 3}


async def test_an_optional_model_inside_itself_is_left_empty() -> None:
    household = await answer("a cat", Household)
    assert household["parent"] is None
    wrapped = await answer("a cat", create_model("Wrapper", home=(Household, ...)))
    assert wrapped["home"]["parent"] is None
