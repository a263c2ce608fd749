"""The standalone A2A app refuses a foreign Host (421), a foreign Origin (403), non-JSON (415)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from ascent import Agent
from ascent.a2a import create_a2a_app
from ascent.cli import app as cli
from ascent.testing import ScriptedModel

A2A = {"A2A-Version": "1.0"}
ATTACKER = "attacker.example"


def send_message(context_id: str) -> dict[str, Any]:
    message = {
        "role": "ROLE_USER",
        "messageId": uuid.uuid4().hex,
        "contextId": context_id,
        "parts": [{"text": "hello"}],
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


def list_tasks(context_id: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 2, "method": "ListTasks", "params": {"contextId": context_id}}


@asynccontextmanager
async def client_for(app: Starlette, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client reaching ``app`` as over a loopback connection."""
    headers = {**A2A, **({"Authorization": f"Bearer {token}"} if token else {})}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://127.0.0.1:8000", headers=headers
        ) as client,
    ):
        yield client


def refused(response: httpx.Response, status: int, type: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type


@pytest.mark.parametrize("token", [None, "secret"])
async def test_the_guard_holds_with_and_without_a_token(tmp_path: Path, token: str | None) -> None:
    model = ScriptedModel(["hi there"] * 3)
    agent = Agent(name="Helper", instructions="Help.", model=model)
    app = create_a2a_app(agent, token=token, database_url=f"sqlite:///{tmp_path / 'a2a.db'}")
    context = uuid.uuid4().hex
    async with client_for(app, token) as client:
        foreign = {"Host": ATTACKER}
        refused(
            await client.post("/", json=send_message(context), headers=foreign),
            421,
            "host_not_allowed",
        )
        card = await client.get("/.well-known/agent-card.json", headers=foreign)
        refused(card, 421, "host_not_allowed")
        evil = {"Origin": f"https://{ATTACKER}"}
        refused(
            await client.post("/", json=send_message(context), headers=evil),
            403,
            "origin_not_allowed",
        )
        body = httpx.Request("POST", "/", json=send_message(context)).content
        plain = await client.post("/", content=body, headers={"Content-Type": "text/plain"})
        refused(plain, 415, "unsupported_media_type")
        assert model.requests == []  # nothing was run
        listed = await client.post("/", json=list_tasks(context))
        assert listed.json()["result"].get("tasks", []) == []  # and no task was made

        answered = await client.post("/", json=send_message(context))  # allowed Host, no Origin
        assert answered.status_code == 200, answered.text
        assert answered.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        assert len(model.requests) == 1


async def test_configured_hosts_are_served_too(tmp_path: Path) -> None:
    agent = Agent(name="Helper", instructions="Help.", model=ScriptedModel([]))
    app = create_a2a_app(
        agent, database_url=f"sqlite:///{tmp_path / 'a2a.db'}", allowed_hosts="agents.example.com"
    )
    async with client_for(app, None) as client:
        card = await client.get(
            "/.well-known/agent-card.json", headers={"Host": "agents.example.com"}
        )
        assert card.status_code == 200
        assert card.json()["supportedInterfaces"][0]["url"] == "http://agents.example.com/"
        refused(
            await client.get("/.well-known/agent-card.json", headers={"Host": ATTACKER}),
            421,
            "host_not_allowed",
        )


def test_a_live_server_refuses_a_foreign_host(serve: Callable[[Any], str], tmp_path: Path) -> None:
    agent = Agent(name="Helper", instructions="Help.", model=ScriptedModel([]))
    url = serve(create_a2a_app(agent, database_url=f"sqlite:///{tmp_path / 'a2a.db'}"))
    assert httpx.get(f"{url}/.well-known/agent-card.json").status_code == 200
    foreign = httpx.get(f"{url}/.well-known/agent-card.json", headers={"Host": ATTACKER})
    refused(foreign, 421, "host_not_allowed")


async def test_ascent_a2a_takes_allowed_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[Starlette] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    arguments = ["a2a", "ascent.demo:triage", "--allowed-host", "agents.example.com"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    async with client_for(served[0], None) as client:
        named = {"Host": "agents.example.com"}
        assert (await client.get("/.well-known/agent-card.json", headers=named)).status_code == 200
        refused(
            await client.get("/.well-known/agent-card.json", headers={"Host": ATTACKER}),
            421,
            "host_not_allowed",
        )
