"""A served run with server-side conversation state: the request's
``previous_response_id`` or ``conversation_id``, over the wire to the mock
OpenAI server (an agent on the Responses API joins the shared engine's agents
for these tests only)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
import pytest_asyncio

from ascent import Agent
from ascent.durable import DurableEngine
from ascent.models.openai_responses import OpenAIResponsesModel
from ascent.testing.mock_openai import MockOpenAIServer

from ..sample_tools import get_order
from ..wire import input_types

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(loop_scope="package")
async def chained(
    engine: DurableEngine, mock_openai: MockOpenAIServer
) -> AsyncIterator[MockOpenAIServer]:
    """The agent ``Chained`` (OpenAI Responses, on the mock) served while a test runs."""
    async with openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="k", timeout=5) as client:
        model = OpenAIResponsesModel(model="gpt-4.1", client=client)
        agent = Agent(name="Chained", instructions="Help.", model=model, tools=[get_order])
        engine.agents._agents["Chained"] = agent
        try:
            yield mock_openai
        finally:
            del engine.agents._agents["Chained"]


@pytest.mark.parametrize("durability", ["steps", "turns", "run"])
async def test_a_served_run_continues_a_response_and_sends_only_new_items(
    acme: httpx.AsyncClient, chained: MockOpenAIServer, durability: str
) -> None:
    chained.add_tool_calls(("get_order", {"order_id": "A1"})).add_text("It shipped.")

    response = await acme.post(
        "/v1/agents/Chained/runs",
        json={
            "input": "Where is A1?",
            "previous_response_id": "resp_old",
            "durability": durability,
        },
    )

    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed", run["error"]
    assert run["output"] == "It shipped."
    first, second = (request.body for request in chained.requests)
    assert first["previous_response_id"] == "resp_old"
    assert input_types(first) == ["message"] and first["input"][0]["content"] == "Where is A1?"
    assert second["previous_response_id"] not in (None, "resp_old")
    assert input_types(second) == ["function_call_output"]


async def test_a_sessions_second_turn_in_a_conversation_sends_only_its_message(
    acme: httpx.AsyncClient, chained: MockOpenAIServer
) -> None:
    chained.add_text("Hello!").add_text("Sure.")
    session = f"conv-{uuid.uuid4().hex[:8]}"
    for text in ("Hi", "Check A1"):
        body = {"input": text, "session_id": session, "conversation_id": "conv_9"}
        response = await acme.post("/v1/agents/Chained/runs", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"

    second = chained.requests[1].body
    assert second["conversation"] == "conv_9" and "previous_response_id" not in second
    assert input_types(second) == ["message"] and second["input"][0]["content"] == "Check A1"
    items = (await acme.get(f"/v1/sessions/{session}/items")).json()["items"]
    assert len(items) == 4  # the session keeps every item, as without


@pytest.mark.parametrize(
    ("field", "value"), [("previous_response_id", "resp_1"), ("conversation_id", "conv_1")]
)
async def test_an_agent_whose_model_keeps_no_conversation_is_a_400(
    acme: httpx.AsyncClient, field: str, value: str
) -> None:
    before = (await acme.get("/v1/runs", params={"agent": "Shop"})).json()["runs"]

    response = await acme.post("/v1/agents/Shop/runs", json={"input": "Hi", field: value})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert f"{field} is not supported by offline" in error["message"]
    after = (await acme.get("/v1/runs", params={"agent": "Shop"})).json()["runs"]
    assert after == before  # no run was started


async def test_both_fields_at_once_are_a_400(
    acme: httpx.AsyncClient, chained: MockOpenAIServer
) -> None:
    body = {"input": "Hi", "previous_response_id": "resp_1", "conversation_id": "conv_1"}

    response = await acme.post("/v1/agents/Chained/runs", json=body)

    assert response.status_code == 400, response.text
    assert "not both" in response.json()["error"]["message"]
    assert chained.requests == []


async def test_an_id_with_control_characters_is_a_422(acme: httpx.AsyncClient) -> None:
    body = {"input": "Hi", "previous_response_id": "resp_\x00"}
    response = await acme.post("/v1/agents/Shop/runs", json=body)
    assert response.status_code == 422, response.text
