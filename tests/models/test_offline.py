"""The offline model behaves like a provider: relevant tools, valid arguments, stable ids."""

from __future__ import annotations

import json
from datetime import date
from enum import Enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from ascent import Agent, Runner, function_tool
from ascent.items import FunctionCall, FunctionCallOutput, Item, Message
from ascent.models import (
    FunctionToolSpec,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    OutputSpec,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
    resolve_model,
)
from ascent.models.offline import OfflineModel, create

MODEL = OfflineModel()

NO_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "required": [],
    "additionalProperties": False,
}


class WeatherArgs(BaseModel):
    city: str = Field(description="The city to get the weather for")
    unit: Literal["celsius", "fahrenheit"]


class OrderArgs(BaseModel):
    order_id: str = Field(description="The order number")


class SearchArgs(BaseModel):
    query: str
    limit: int = 10


def spec(
    name: str, description: str, args: type[BaseModel] | None = None, strict: bool = True
) -> FunctionToolSpec:
    parameters = args.model_json_schema() if args is not None else NO_PARAMETERS
    return FunctionToolSpec(
        name=name, description=description, parameters=parameters, strict=strict
    )


WEATHER = spec("get_weather", "Get the current weather forecast for a city.", WeatherArgs)
ORDER = spec("get_order_status", "Look up the shipping status of a customer order.", OrderArgs)
BILLING = spec(
    "transfer_to_billing",
    "Hand off to the Billing agent to handle the request. Invoices, payments and refunds.",
)


def request(
    input: str | list[Item],
    tools: list[FunctionToolSpec] | None = None,
    *,
    output: type[BaseModel] | None = None,
    tool_choice: str | None = None,
    instructions: str | None = "You are a helpful assistant.",
) -> ModelRequest:
    items: list[Item] = [Message(role="user", content=input)] if isinstance(input, str) else input
    return ModelRequest(
        instructions=instructions,
        input=items,
        tools=list(tools or []),
        output=OutputSpec(name="out", schema=output.model_json_schema()) if output else None,
        settings=ModelSettings(tool_choice=tool_choice),
    )


async def call_of(req: ModelRequest) -> FunctionCall:
    response = await MODEL.respond(req)
    assert len(response.output) == 1
    item = response.output[0]
    assert isinstance(item, FunctionCall), item
    return item


async def text_of(req: ModelRequest) -> str:
    response = await MODEL.respond(req)
    assert len(response.output) == 1
    item = response.output[0]
    assert isinstance(item, Message) and item.role == "assistant", item
    return item.text


def after_call(user: str, name: str, output: str) -> list[Item]:
    return [
        Message(role="user", content=user),
        FunctionCall(call_id="c1", name=name, arguments="{}"),
        FunctionCallOutput(call_id="c1", output=output),
    ]


# ------------------------------------------------------------------ identity


def test_factory_and_registry_build_an_offline_model() -> None:
    for model in (create(""), create("anything"), resolve_model("offline:whatever")):
        assert isinstance(model, OfflineModel)
        assert isinstance(model, Model)
        assert model.name == "offline"
        assert model.supports_hosted_tools is False


# ------------------------------------------------------------- tool selection


async def test_picks_the_tool_whose_words_match() -> None:
    tools = [ORDER, WEATHER, BILLING]
    weather = await call_of(request("What's the weather in Paris today?", tools))
    assert weather.name == "get_weather"
    order = await call_of(request("Where is my order A-1234? It has not shipped.", tools))
    assert order.name == "get_order_status"
    assert OrderArgs.model_validate_json(order.arguments).order_id == "A-1234"


async def test_handoff_tool_competes_like_any_tool() -> None:
    call = await call_of(request("I was charged twice, I want a refund", [WEATHER, BILLING]))
    assert call.name == "transfer_to_billing"
    assert json.loads(call.arguments) == {}


async def test_no_tool_fits_so_it_restates_the_request() -> None:
    text = await text_of(request("Tell me a joke", [WEATHER, ORDER, BILLING]))
    assert text == "You said: Tell me a joke"


async def test_reply_never_echoes_the_instructions() -> None:
    text = await text_of(request("hello there", instructions="SECRET-PROMPT do things"))
    assert "SECRET" not in text
    assert "hello there" in text


async def test_answers_after_the_tool_output_arrives() -> None:
    items = after_call("Weather in Paris?", "get_weather", '{"sky": "sunny", "temp": 21}')
    text = await text_of(request(items, [WEATHER]))
    assert text.startswith("Here is what I found:")
    assert "get_weather" in text and "sunny" in text


async def test_tool_error_is_reported_as_a_failure() -> None:
    items: list[Item] = [
        Message(role="user", content="status of order 77"),
        FunctionCall(call_id="c9", name="get_order_status", arguments="{}"),
        FunctionCallOutput(call_id="c9", output="database down", is_error=True),
    ]
    text = await text_of(request(items, [ORDER]))
    assert "get_order_status failed: database down" in text


async def test_only_calls_since_the_latest_user_message_count() -> None:
    earlier = after_call("Weather in Paris?", "get_weather", "sunny")
    items = [
        *earlier,
        Message.assistant("It is sunny."),
        Message(role="user", content="And the weather in Rome?"),
    ]
    call = await call_of(request(items, [WEATHER]))
    assert call.name == "get_weather"


async def test_after_a_handoff_the_next_agent_does_not_report_it() -> None:
    items: list[Item] = [
        Message(role="user", content="I need a refund"),
        FunctionCall(call_id="h1", name="transfer_to_billing", arguments="{}"),
        FunctionCallOutput(call_id="h1", output='{"assistant": "Billing"}', handoff_to="Billing"),
    ]
    # The billing agent's own tool fits and has not been called yet.
    refund = spec("issue_refund", "Issue a refund for an order.", OrderArgs)
    assert (await call_of(request(items, [refund, BILLING]))).name == "issue_refund"
    # Without tools it answers, and the handoff output is not "found" data.
    assert await text_of(request(items)) == "You said: I need a refund"


# ------------------------------------------------------------------ handoffs


LOOKUP = spec("lookup_order", "Look up an order by its id.", OrderArgs)
MOVE_MONEY = spec("move_money", "Move money between the customer's accounts.")
SAVINGS = spec(
    "transfer_to_savings_advisor",
    "Hand off to the Savings Advisor agent to handle the request. Advice on savings plans.",
)


async def test_request_matching_the_agent_better_than_any_tool_hands_off() -> None:
    # "billing" and "invoice" name the Billing agent; "order" only ties with the tool's name.
    call = await call_of(
        request("A billing question about the invoice of my order", [LOOKUP, BILLING])
    )
    assert call.name == "transfer_to_billing"
    # The same tools, a request about the order alone: the tool.
    assert (
        await call_of(request("Look up my order A-7", [LOOKUP, BILLING]))
    ).name == "lookup_order"


async def test_a_tie_between_a_tool_and_a_handoff_goes_to_the_tool() -> None:
    # One word each, from the descriptions: "invoice" (the tool), "invoices" (Billing).
    printer = spec("print_document", "Print an invoice.")
    for tools in ([printer, BILLING], [BILLING, printer]):
        assert (await call_of(request("my invoice", tools))).name == "print_document"
    # Between handoffs the first listed wins, as between tools.
    other = spec("transfer_to_accounts", "Hand off to the Accounts agent. Invoices too.")
    assert (await call_of(request("my invoice", [other, BILLING]))).name == other.name


async def test_the_transfer_to_prefix_of_a_handoff_is_not_a_match() -> None:
    # "transfer" is in every handoff's name; it says nothing about which agent fits.
    text = "please transfer money to my savings account"
    assert (await call_of(request(text, [MOVE_MONEY, SAVINGS]))).name == "move_money"
    advice = "I want advice on a savings plan"
    assert (await call_of(request(advice, [MOVE_MONEY, SAVINGS]))).name == SAVINGS.name


async def test_stemming_meets_inflected_words() -> None:
    charge = spec("explain_charge", "Explain a charge on the customer's card.")
    ship = spec("ship_parcel", "Send a parcel to the customer.")
    tools = [ship, charge]
    assert (await call_of(request("I was charged twice", tools))).name == "explain_charge"
    assert (await call_of(request("has it shipped yet?", tools))).name == "ship_parcel"


async def test_a_team_hands_off_by_agent_name_and_description() -> None:
    about = {"history": "history questions", "math": "math questions"}
    history, maths = (
        Agent(name=f"{topic} tutor", handoff_description=f"For {what}", model="offline")
        for topic, what in about.items()
    )
    triage = Agent(name="Triage", handoffs=[history, maths], tools=[get_weather], model="offline")
    routed = await Runner.run(triage, "A history question: who built the pyramids?")
    assert routed.last_agent is history
    routed = await Runner.run(triage, "Help with my math homework")
    assert routed.last_agent is maths
    stayed = await Runner.run(triage, "What is the weather in Oslo?")
    assert stayed.last_agent is triage
    assert stayed.final_output == "Here is what I found: get_weather: cloudy in Oslo"


# ----------------------------------------------------------------- approvals


@function_tool(needs_approval=True)
def cancel_order(order_id: str) -> str:
    """Cancel a customer's order before it ships."""
    return f"cancelled {order_id}"


@function_tool
def order_status(order_id: str) -> str:
    """Where an order is now."""
    return f"{order_id} is packed"


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"cloudy in {city.rstrip('?').split()[-1]}"


async def test_an_approval_gated_tool_that_matches_is_called_and_the_run_pauses() -> None:
    shop = Agent(name="Shop", tools=[order_status, cancel_order], model="offline")
    paused = await Runner.run(shop, "Please cancel order A-77")
    assert paused.is_interrupted
    [waiting] = paused.interruptions
    assert waiting.tool_name == "cancel_order"
    assert json.loads(waiting.arguments) == {"order_id": "A-77"}
    # The ungated tool is chosen when the request is about it, and nothing waits.
    answered = await Runner.run(shop, "What is the status of order A-77?")
    assert not answered.is_interrupted
    assert answered.final_output == "Here is what I found: order_status: A-77 is packed"


# ---------------------------------------------------------------- tool_choice


async def test_tool_choice_none_never_calls() -> None:
    text = await text_of(request("weather in Paris", [WEATHER], tool_choice="none"))
    assert text.startswith("You said:")


async def test_tool_choice_required_calls_even_without_overlap() -> None:
    call = await call_of(request("Tell me a joke", [ORDER, WEATHER], tool_choice="required"))
    assert call.name == "get_order_status"  # all score 0: the first tool
    items = after_call("Tell me a joke", "get_order_status", "none")
    assert (await text_of(request(items, [ORDER], tool_choice="required"))).startswith("Here is")


async def test_tool_choice_by_name_forces_that_tool() -> None:
    call = await call_of(
        request("weather in Paris", [WEATHER, ORDER], tool_choice="get_order_status")
    )
    assert call.name == "get_order_status"
    OrderArgs.model_validate_json(call.arguments)
    items = after_call("weather in Paris", "get_order_status", "shipped")
    text = await text_of(request(items, [WEATHER, ORDER], tool_choice="get_order_status"))
    assert "shipped" in text


# ------------------------------------------------------------ argument filling


class Address(BaseModel):
    street: str
    zip_code: int


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Shipment(BaseModel):
    order_id: str
    express: bool
    quantity: int = Field(ge=1, le=10)
    weight: float
    color: Color
    address: Address
    tags: list[str]
    note: str | None
    when: date
    pair: tuple[int, str]


async def call_with(args: type[BaseModel], text: str, strict: bool = True) -> FunctionCall:
    tool = spec("make_shipment", "Create a shipment.", args, strict=strict)
    return await call_of(request(text, [tool], tool_choice="required"))


async def test_arguments_fill_a_rich_schema_and_validate() -> None:
    text = "Ship order #5512, yes express, 500 boxes of 2.5 kg, in blue, on 2025-03-04"
    call = await call_with(Shipment, text)
    shipment = Shipment.model_validate_json(call.arguments)
    assert shipment.order_id == "#5512"
    assert shipment.express is True
    assert shipment.quantity == 10  # 500, kept within le=10
    assert shipment.weight == 2.5
    assert shipment.color is Color.BLUE
    assert shipment.when == date(2025, 3, 4)
    assert len(shipment.tags) == 1 and shipment.tags[0] == text
    assert shipment.note == text  # anyOf with null: the string branch
    assert isinstance(shipment.address.zip_code, int)


async def test_numbers_are_handed_out_in_order() -> None:
    class Add(BaseModel):
        a: int
        b: float

    args = Add.model_validate_json((await call_with(Add, "add 3 and 4.5")).arguments)
    assert (args.a, args.b) == (3, 4.5)


async def test_enum_defaults_and_booleans_default_false() -> None:
    class Flags(BaseModel):
        unit: Literal["celsius", "fahrenheit"]
        notify: bool

    hot = Flags.model_validate_json((await call_with(Flags, "in Fahrenheit please")).arguments)
    assert hot.unit == "fahrenheit" and hot.notify is False
    plain = Flags.model_validate_json((await call_with(Flags, "yes, but not now")).arguments)
    assert plain.unit == "celsius" and plain.notify is False


async def test_quoted_phrase_is_used_for_a_string() -> None:
    call = await call_with(SearchArgs, 'search for "blue suede shoes" now')
    assert SearchArgs.model_validate_json(call.arguments).query == "blue suede shoes"


async def test_strict_schema_gets_every_property_and_loose_only_required() -> None:
    strict = json.loads((await call_with(SearchArgs, "find 3 cats", strict=True)).arguments)
    assert strict == {"query": "find 3 cats", "limit": 3}
    loose = json.loads((await call_with(SearchArgs, "find 3 cats", strict=False)).arguments)
    assert loose == {"query": "find 3 cats"}


# ---------------------------------------------------------- structured output


class Priority(Enum):
    LOW = "low"
    HIGH = "high"


class Step(BaseModel):
    title: str
    minutes: int


class Plan(BaseModel):
    summary: str
    priority: Priority
    steps: list[Step]
    done: bool
    owner: Literal["me", "you"] | None


class Tree(BaseModel):
    label: str
    children: list[Tree]


async def test_structured_output_validates_nested_models_enums_lists() -> None:
    text = await text_of(request("Plan a high priority trip in 45 minutes", output=Plan))
    plan = Plan.model_validate_json(text)
    assert plan.priority is Priority.HIGH
    assert plan.steps[0].minutes == 45
    assert "trip" in plan.summary
    assert plan.done is False


async def test_structured_output_draws_on_tool_outputs() -> None:
    items = after_call("how long?", "estimate", "about 30 minutes")
    plan = Plan.model_validate_json(await text_of(request(items, output=Plan)))
    assert plan.summary == "about 30 minutes"
    assert plan.steps[0].minutes == 30


async def test_structured_output_handles_recursive_models() -> None:
    tree = Tree.model_validate_json(await text_of(request("a tree", output=Tree)))
    depth = 0
    while tree.children:
        tree, depth = tree.children[0], depth + 1
    assert 1 <= depth < 10


async def test_tool_call_comes_before_structured_output() -> None:
    call = await call_of(request("weather in Paris", [WEATHER], output=Plan))
    assert call.name == "get_weather"


# -------------------------------------------------------- determinism, stream


async def test_same_request_same_response_and_ids_follow_the_request() -> None:
    first = await MODEL.respond(request("weather in Paris", [WEATHER]))
    second = await OfflineModel().respond(request("weather in Paris", [WEATHER]))
    assert first == second
    other = await MODEL.respond(request("weather in Rome", [WEATHER]))
    first_call, other_call = first.output[0], other.output[0]
    assert isinstance(first_call, FunctionCall) and isinstance(other_call, FunctionCall)
    assert first_call.call_id != other_call.call_id
    assert first.response_id and first.response_id != other.response_id


async def test_usage_is_a_rough_token_count() -> None:
    short = await MODEL.respond(request("hi"))
    long = await MODEL.respond(request("hi " * 400))
    assert short.usage.requests == 1
    assert short.usage.input_tokens >= 1 and short.usage.output_tokens >= 1
    assert long.usage.input_tokens > short.usage.input_tokens + 200
    assert long.usage.output_tokens > short.usage.output_tokens


async def collect(req: ModelRequest) -> tuple[list[Any], ModelResponse]:
    events = [event async for event in MODEL.stream(req)]
    last = events[-1]
    assert isinstance(last, ResponseCompleted)
    assert await MODEL.respond(req) == last.response
    return events[:-1], last.response


@pytest.mark.parametrize("output", [None, Plan])
async def test_stream_text_deltas_add_up_to_the_response(output: type[BaseModel] | None) -> None:
    deltas, response = await collect(request("  tell me   a story\nplease ", output=output))
    message = response.output[0]
    assert isinstance(message, Message)
    assert all(isinstance(delta, TextDelta) and delta.item_id == message.id for delta in deltas)
    assert len(deltas) > 3
    assert "".join(delta.delta for delta in deltas) == message.text


async def test_stream_tool_call_arguments_add_up() -> None:
    deltas, response = await collect(
        request("Ship order #1, blue, 2025-01-02", [spec("ship", "Ship it", Shipment)])
    )
    call = response.output[0]
    assert isinstance(call, FunctionCall)
    assert deltas and all(isinstance(delta, ToolCallArgumentsDelta) for delta in deltas)
    assert all(delta.call_id == call.call_id and delta.name == "ship" for delta in deltas)
    assert "".join(delta.delta for delta in deltas) == call.arguments
