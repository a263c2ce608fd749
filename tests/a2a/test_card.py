"""The agent card: served at both well-known paths, valid for the SDK, derived from the agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from a2a.client import A2ACardResolver
from a2a.client.card_resolver import parse_agent_card
from a2a.helpers import new_text_part
from a2a.types import AgentCard
from fastapi import FastAPI
from google.protobuf.json_format import ParseDict

from ascent import Agent, function_tool
from ascent.a2a import build_agent_card, create_a2a_app
from ascent.a2a.server import CARD_PATHS
from ascent.testing import ScriptedModel

from .test_server import final_task, sdk_client, send

Serve = Callable[[Any], str]


@function_tool
def track_order(order_id: str) -> str:
    """Track an order by its id."""
    return "on its way"


def team() -> Agent[Any]:
    billing = Agent(name="Billing", handoff_description="Invoices and refunds.")
    researcher = Agent(name="Researcher", handoff_description="Finds facts.")
    return Agent(
        name="Support",
        instructions="Help the customers of a shop.",
        tools=[track_order, researcher.as_tool()],
        handoffs=[billing],
    )


async def test_the_card_is_served_at_both_paths_and_parses_with_the_sdk(serve: Serve) -> None:
    url = serve(create_a2a_app(team()))
    async with httpx.AsyncClient(base_url=url) as http:
        new = (await http.get("/.well-known/agent-card.json")).json()
        old = (await http.get("/.well-known/agent.json")).json()
        card = await A2ACardResolver(http, url).get_agent_card()
    assert new == old
    assert parse_agent_card(new) == card  # validates against the SDK's protobuf types

    assert card.name == "Support"
    assert card.description == "Help the customers of a shop."
    assert card.capabilities.streaming
    assert card.supported_interfaces[0].url == url + "/"
    assert card.supported_interfaces[0].protocol_binding == "JSONRPC"
    skills = {skill.id: (skill.description, list(skill.tags)) for skill in card.skills}
    assert skills == {
        "track_order": ("Track an order by its id.", ["tool"]),
        "researcher": ("Finds facts.", ["agent"]),
        "transfer_to_billing": (
            "Hand off to the Billing agent to handle the request. Invoices and refunds.",
            ["handoff"],
        ),
    }
    assert not card.security_schemes and not card.security_requirements


def test_a_token_declares_the_bearer_scheme_and_a_bare_agent_gets_one_skill() -> None:
    card = build_agent_card(Agent(name="Solo Agent"), url="http://x/", bearer_auth=True)
    assert card.security_schemes["bearer"].http_auth_security_scheme.scheme == "bearer"
    assert list(card.security_requirements[0].schemes) == ["bearer"]
    (skill,) = card.skills
    assert (skill.id, skill.name, skill.description) == (
        "solo_agent",
        "Solo Agent",
        "The Solo Agent agent.",
    )
    assert isinstance(card, AgentCard)


async def test_mounted_under_a_prefix_the_card_points_inside_it(serve: Serve) -> None:
    api = FastAPI()
    agent = Agent(name="Support", model=ScriptedModel(["mounted answer"]))
    api.mount("/agents/support", create_a2a_app(agent))
    base = serve(api)

    client = await sdk_client(base + "/agents/support", streaming=False)
    task = final_task(await send(client, new_text_part("hello")))

    assert task.artifacts[0].parts[0].text == "mounted answer"
    async with httpx.AsyncClient() as http:
        card = (await http.get(base + "/agents/support/.well-known/agent-card.json")).json()
    assert card["supportedInterfaces"][0]["url"] == base + "/agents/support/"
    await client.close()


async def test_the_card_carries_an_etag_and_cache_control_and_revalidates(serve: Serve) -> None:
    url = serve(create_a2a_app(team()))
    async with httpx.AsyncClient(base_url=url) as http:
        for path in CARD_PATHS:
            first = await http.get(path)
            etag = first.headers["etag"]
            assert first.status_code == 200 and first.headers["cache-control"]

            again = await http.get(path, headers={"If-None-Match": etag})

            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag


_V03_FIELDS = {"url", "preferredTransport", "protocolVersion"}


async def test_the_default_card_is_a_1_0_card(serve: Serve) -> None:
    url = serve(create_a2a_app(team()))
    async with httpx.AsyncClient(base_url=url) as http:
        served = [(await http.get(path)).json() for path in CARD_PATHS]

    for card in served:
        assert not _V03_FIELDS & card.keys()
        assert [i["protocolVersion"] for i in card["supportedInterfaces"]] == ["1.0"]
        ParseDict(card, AgentCard())  # strict: an unknown field is an error


async def test_v0_3_compatibility_declares_the_0_3_fields(serve: Serve) -> None:
    url = serve(create_a2a_app(team(), a2a_v03_compat=True))
    async with httpx.AsyncClient(base_url=url) as http:
        card = (await http.get(CARD_PATHS[0])).json()

    assert card["url"] == url + "/" and card["protocolVersion"] == "0.3"
    assert card["preferredTransport"] == "JSONRPC"
    versions = [i["protocolVersion"] for i in card["supportedInterfaces"]]
    assert versions == ["1.0", "0.3"]
