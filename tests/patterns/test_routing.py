"""Routing: the router's structured decision picks one specialist, which gets the input."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from ascent import Agent, UserError
from ascent.errors import PatternError
from ascent.patterns import route
from ascent.testing import ScriptedModel, ToolCall, recording_traces

from .conftest import one_workflow, scripted


def team() -> dict[str, tuple[Agent, ScriptedModel]]:
    billing, billing_model = scripted(
        "Billing", "Your refund is on its way.", handoff_description="Orders and refunds"
    )
    tech, tech_model = scripted("Technical", handoff_description="App errors and logins")
    return {"billing": (billing, billing_model), "technical": (tech, tech_model)}


async def test_the_router_picks_a_specialist_that_gets_the_original_input() -> None:
    members = team()
    router, router_model = scripted(
        "Router", json.dumps({"reason": "a refund question", "route": "billing"})
    )
    result = await route(router, {k: a for k, (a, _) in members.items()}, "Refund A-1042")

    assert result.route == "billing"
    assert result.decision.reason == "a refund question"
    assert result.final_output == "Your refund is on its way."
    assert result.run.last_agent.name == "Billing"
    billing_model = members["billing"][1]
    assert billing_model.requests[0].input[-1].text == "Refund A-1042"
    assert members["technical"][1].requests == []
    # the model is held to the routes by the output schema, with their descriptions
    schema = router_model.requests[0].output.schema
    assert schema["properties"]["route"]["enum"] == ["billing", "technical"]
    assert "billing: Orders and refunds" in schema["properties"]["route"]["description"]


async def test_a_list_of_agents_routes_by_agent_name_and_offline_follows_the_words() -> None:
    billing = Agent(name="Billing", model="offline", handoff_description="Orders and refunds")
    tech = Agent(name="Technical", model="offline", handoff_description="App errors")
    router = Agent(name="Router", model="offline")
    result = await route(router, [billing, tech], "A Technical question: the app crashes")
    assert result.route == "Technical"
    assert result.run.last_agent.name == "Technical"


class Category(BaseModel):
    category: str


async def test_a_router_with_its_own_output_type_reads_the_route_with_key() -> None:
    members = team()
    router, _ = scripted("Router", Category(category="billing"), output_type=Category)
    result = await route(
        router,
        {k: a for k, (a, _) in members.items()},
        "Refund please",
        key=lambda decision: decision.category,
    )
    assert result.route == "billing" and result.decision == Category(category="billing")


async def test_an_unknown_route_goes_to_the_fallback_or_raises() -> None:
    members = {k: a for k, (a, _) in team().items()}
    router, _ = scripted("Router", Category(category="weather"), output_type=Category)
    with pytest.raises(PatternError, match=r"chose 'weather'.*no fallback"):
        await route(router, members, "Will it rain?", key=lambda d: d.category)

    router, _ = scripted("Router", Category(category="weather"), output_type=Category)
    general, _ = scripted("General", "I can only help with the shop.")
    result = await route(
        router, members, "Will it rain?", key=lambda d: d.category, fallback=general
    )
    assert result.route == "weather" and result.run.last_agent.name == "General"


async def test_misuse_is_a_user_error() -> None:
    router, _ = scripted("Router", output_type=Category)
    with pytest.raises(UserError, match="pass key="):
        await route(router, {k: a for k, (a, _) in team().items()}, "hi")
    with pytest.raises(UserError, match="at least one route"):
        await route(Agent(name="Router"), {}, "hi")


async def test_routing_is_one_trace_recording_the_route() -> None:
    members = team()
    router, _ = scripted("Router", json.dumps({"reason": "refund", "route": "billing"}))
    with recording_traces() as recorder:
        await route(router, {k: a for k, (a, _) in members.items()}, "Refund A-1")
    tree = one_workflow(recorder, "Routing")
    assert [(depth, name) for depth, kind, name in tree if kind != "model"] == [
        (0, "Routing"),
        (1, "router: Router"),
        (2, "Router"),
        (1, "route billing: Billing"),
        (2, "Billing"),
    ]
    [root] = [s for s in recorder.spans if s.name == "Routing"]
    assert root.attributes["route"] == "billing"


async def test_routing_by_handoff_is_one_run_from_router_to_specialist() -> None:
    members = team()
    router, router_model = scripted("Router", ToolCall("transfer_to_billing"))
    billing_model = members["billing"][1]
    with recording_traces() as recorder:
        result = await route(
            router, {k: a for k, (a, _) in members.items()}, "Refund A-1", handoffs=True
        )
    assert result.route == "billing" and result.decision is None
    assert result.router_run is result.run
    assert result.final_output == "Your refund is on its way."
    # the router was offered the routes as handoffs, and no structured output
    assert router_model.requests[0].output is None
    assert {t.name for t in router_model.requests[0].tools} == {
        "transfer_to_billing",
        "transfer_to_technical",
    }
    assert billing_model.requests[0].input[0].text == "Refund A-1"
    tree = one_workflow(recorder, "Routing")
    assert [(d, name) for d, kind, name in tree if kind == "agent"] == [
        (2, "Router"),
        (2, "Billing"),
    ]


async def test_a_router_that_does_not_hand_off_goes_to_the_fallback_or_raises() -> None:
    members = {k: a for k, (a, _) in team().items()}
    router, _ = scripted("Router", "I answer myself.")
    with pytest.raises(PatternError, match="without handing off"):
        await route(router, members, "hi", handoffs=True)
    router, _ = scripted("Router", "I answer myself.")
    general, _ = scripted("General", "General help.")
    result = await route(router, members, "hi", handoffs=True, fallback=general)
    assert result.route == "" and result.final_output == "General help."
