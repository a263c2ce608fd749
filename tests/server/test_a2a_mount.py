"""Each agent over A2A under /a2a/<agent>, behind the service's keys, tasks per tenant."""

from __future__ import annotations

import pytest

from ascent.durable import DurableEngine
from ascent.server import create_app

from .conftest import KEYS, serving

pytestmark = pytest.mark.asyncio(loop_scope="package")

A2A = {"A2A-Version": "1.0"}


def _send(text: str) -> dict[str, object]:
    message = {"role": "ROLE_USER", "messageId": f"m-{text}", "parts": [{"text": text}]}
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


async def test_agents_are_served_over_a2a_per_tenant(
    engine: DurableEngine, database_url: str
) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys=KEYS, a2a=True)
    acme = {**A2A, "Authorization": "Bearer key-acme"}
    globex = {**A2A, "Authorization": "Bearer key-globex"}
    async with serving(app, key=None) as client:  # the lifespan runs once, as under uvicorn
        card = await client.get("/a2a/shop/.well-known/agent-card.json")
        assert card.status_code == 200  # cards stay public, for discovery
        assert card.json()["name"] == "Shop"
        assert card.json()["supportedInterfaces"][0]["url"] == "http://service/a2a/shop/"
        refused = await client.post("/a2a/shop/", json=_send("hi"), headers=A2A)
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "unauthorized"

        question = _send("What is the status of order A-1042?")
        task = (await client.post("/a2a/shop/", json=question, headers=acme)).json()["result"]
        task = task["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        get = {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": task["id"]}}
        mine = (await client.post("/a2a/shop/", json=get, headers=acme)).json()
        assert mine["result"]["id"] == task["id"]

        foreign = (await client.post("/a2a/shop/", json=get, headers=globex)).json()
        assert "result" not in foreign
        assert "not found" in foreign["error"]["message"].lower()
