"""Who may call the service: an allowed Host (421), an allowed Origin (403), JSON bodies (415).

The rules hold on every surface (REST, SSE, the mounted A2A and MCP apps) with
API keys and without. The clients here reach the app as over a loopback
connection (the ASGI server address is 127.0.0.1) unless a test says otherwise.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from ascent.cli import app as cli
from ascent.durable import DurableEngine
from ascent.errors import UserError
from ascent.server import ErrorResponse, create_app, resolve_app

from .conftest import KEYS

pytestmark = pytest.mark.asyncio(loop_scope="package")

ATTACKER = "attacker.example"
A2A = {"A2A-Version": "1.0"}
MCP = {"Accept": "application/json, text/event-stream"}
MCP_CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


@asynccontextmanager
async def client_for(
    app: FastAPI, *, server: str = "127.0.0.1:8000", key: str | None = "key-acme"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests reach ``app`` as on a connection to ``server``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url=f"http://{server}", headers=headers
        ) as client,
    ):
        yield client


def refused(response: httpx.Response, status: int, type: str) -> None:
    assert response.status_code == status, response.text
    body = ErrorResponse.model_validate(response.json())  # the service's one error shape
    assert body.error.type == type and body.error.message


def send_message(text: str, context_id: str) -> dict[str, object]:
    message = {
        "role": "ROLE_USER",
        "messageId": uuid.uuid4().hex,
        "contextId": context_id,
        "parts": [{"text": text}],
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


def list_tasks(context_id: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 2, "method": "ListTasks", "params": {"contextId": context_id}}


@pytest.fixture(params=["keys", "no keys"])
def keys(request: pytest.FixtureRequest) -> Mapping[str, str]:
    return KEYS if request.param == "keys" else {}


def service(
    engine: DurableEngine, database_url: str, keys: Mapping[str, str], **options: object
) -> FastAPI:
    return create_app(
        engine=engine, database_url=database_url, api_keys=keys, a2a=True, mcp=True, **options
    )


async def test_a_foreign_host_is_refused_on_every_surface(
    engine: DurableEngine, database_url: str, keys: Mapping[str, str]
) -> None:
    app = service(engine, database_url, keys)
    foreign = {"Host": ATTACKER}
    async with client_for(app) as client:
        run = (await client.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
        assert run["status"] == "completed"  # the same client, with its own Host, works

        refused(await client.get("/v1/agents", headers=foreign), 421, "host_not_allowed")
        started = await client.post("/v1/agents/Echo/runs", json={"input": "hi"}, headers=foreign)
        refused(started, 421, "host_not_allowed")
        events = await client.get(f"/v1/runs/{run['id']}/events", headers=foreign)
        refused(events, 421, "host_not_allowed")
        mcp = await client.post("/mcp", json=MCP_CALL, headers={**MCP, **foreign})
        refused(mcp, 421, "host_not_allowed")
        a2a = await client.post(
            "/a2a/echo/", json=send_message("hi", "c"), headers={**A2A, **foreign}
        )
        refused(a2a, 421, "host_not_allowed")
        card = await client.get("/a2a/echo/.well-known/agent-card.json", headers=foreign)
        refused(card, 421, "host_not_allowed")
        refused(await client.get("/healthz", headers=foreign), 421, "host_not_allowed")


@pytest.mark.parametrize("named", ["localhost:8000", "127.0.0.1", "[::1]:9000", "LOCALHOST"])
async def test_loopback_names_are_served_on_a_loopback_connection(
    engine: DurableEngine, database_url: str, named: str
) -> None:
    app = service(engine, database_url, KEYS)
    async with client_for(app) as client:
        assert (await client.get("/v1/agents", headers={"Host": named})).status_code == 200


async def test_a_foreign_origin_may_not_change_state(
    engine: DurableEngine, database_url: str, keys: Mapping[str, str]
) -> None:
    app = service(engine, database_url, keys)
    evil = {"Origin": f"https://{ATTACKER}"}
    context = uuid.uuid4().hex
    async with client_for(app) as client:
        started = await client.post("/v1/agents/Echo/runs", json={"input": "hi"}, headers=evil)
        refused(started, 403, "origin_not_allowed")
        deleted = await client.delete("/v1/sessions/s-guard", headers=evil)
        refused(deleted, 403, "origin_not_allowed")
        mcp = await client.post("/mcp", json=MCP_CALL, headers={**MCP, **evil})
        refused(mcp, 403, "origin_not_allowed")
        a2a = await client.post(
            "/a2a/echo/", json=send_message("hi", context), headers={**A2A, **evil}
        )
        refused(a2a, 403, "origin_not_allowed")
        for origin in ("null", "http://localhost.attacker.example:8000", "file://"):
            again = await client.post(
                "/v1/agents/Echo/runs", json={"input": "hi"}, headers={"Origin": origin}
            )
            refused(again, 403, "origin_not_allowed")

        # reading is not changing: a foreign page cannot read the answer without CORS anyway
        assert (await client.get("/v1/agents", headers=evil)).status_code == 200
        # the service's own pages (its /docs) and other local pages may
        for origin in ("http://127.0.0.1:8000", "http://localhost:3000"):
            ok = await client.post(
                "/v1/agents/Echo/runs", json={"input": "hi"}, headers={"Origin": origin}
            )
            assert ok.status_code == 200, ok.text


async def test_only_json_bodies_are_read(
    engine: DurableEngine, database_url: str, keys: Mapping[str, str]
) -> None:
    app = service(engine, database_url, keys)
    context = uuid.uuid4().hex
    body = b'{"input": "hi"}'
    async with client_for(app) as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "", "text/json"):
            headers = {"Content-Type": content_type} if content_type else {}
            started = await client.post("/v1/agents/Echo/runs", content=body, headers=headers)
            refused(started, 415, "unsupported_media_type")

        plain = {**A2A, "Content-Type": "text/plain"}
        message = httpx.Request("POST", "/", json=send_message("hi", context)).content
        refused(
            await client.post("/a2a/echo/", content=message, headers=plain),
            415,
            "unsupported_media_type",
        )
        listed = await client.post("/a2a/echo/", json=list_tasks(context), headers=A2A)
        assert listed.status_code == 200, listed.text
        assert listed.json()["result"].get("tasks", []) == []  # no task was made

        mcp = await client.post(
            "/mcp",
            content=httpx.Request("POST", "/", json=MCP_CALL).content,
            headers={**MCP, "Content-Type": "text/plain"},
        )
        refused(mcp, 415, "unsupported_media_type")

        for content_type in ("application/json; charset=utf-8", "Application/JSON"):
            ok = await client.post(
                "/v1/agents/Echo/runs", content=body, headers={"Content-Type": content_type}
            )
            assert ok.status_code == 200, ok.text
        # a request without a body needs no content type
        cancel = await client.post("/v1/runs/no-such-run/cancel")
        refused(cancel, 404, "run_not_found")


async def test_configured_hosts_are_served_too(engine: DurableEngine, database_url: str) -> None:
    app = service(
        engine, database_url, KEYS, allowed_hosts=["agents.example.com", "*.corp.example"]
    )
    async with client_for(app) as client:
        for named in (
            "agents.example.com",
            "agents.example.com:8443",
            "api.eu.corp.example",
            "localhost:8000",
        ):
            assert (await client.get("/v1/agents", headers={"Host": named})).status_code == 200
        for named in (ATTACKER, "corp.example", "agents.example.com.attacker.example"):
            refused(
                await client.get("/v1/agents", headers={"Host": named}), 421, "host_not_allowed"
            )
        # a page on a configured host may post to it
        same = {"Host": "agents.example.com", "Origin": "https://agents.example.com"}
        started = await client.post("/v1/agents/Echo/runs", json={"input": "hi"}, headers=same)
        assert started.status_code == 200, started.text


async def test_the_allowed_hosts_come_from_the_environment(
    engine: DurableEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASCENT_ALLOWED_HOSTS", "agents.example.com, other.example:9000")
    app = service(engine, database_url, KEYS)
    async with client_for(app) as client:
        assert (
            await client.get("/v1/agents", headers={"Host": "agents.example.com"})
        ).status_code == 200
        assert (
            await client.get("/v1/agents", headers={"Host": "other.example:9000"})
        ).status_code == 200
        refused(
            await client.get("/v1/agents", headers={"Host": "other.example:9001"}),
            421,
            "host_not_allowed",
        )


async def test_beyond_loopback_any_host_is_served_and_origins_must_match_it(
    engine: DurableEngine, database_url: str
) -> None:
    """A connection that did not arrive on loopback came through a proxy or an ingress,
    which sets Host: any is served. A state-changing request's Origin must still be
    the host it names (a TLS-terminating proxy forwards plain http: the ports are
    compared as the page's scheme has them)."""
    app = service(engine, database_url, KEYS)
    async with client_for(app, server="10.1.2.3:8000") as client:
        named = {"Host": "agents.example.com"}
        assert (await client.get("/v1/agents", headers=named)).status_code == 200
        for origin in ("https://agents.example.com", "http://agents.example.com"):
            same = await client.post(
                "/v1/agents/Echo/runs", json={"input": "hi"}, headers={**named, "Origin": origin}
            )
            assert same.status_code == 200, same.text
        for origin in (f"https://{ATTACKER}", "https://agents.example.com:8443"):
            evil = await client.post(
                "/v1/agents/Echo/runs", json={"input": "hi"}, headers={**named, "Origin": origin}
            )
            refused(evil, 403, "origin_not_allowed")
        plain = await client.post(
            "/v1/agents/Echo/runs",
            content=b'{"input": "hi"}',
            headers={**named, "Content-Type": "text/plain"},
        )
        refused(plain, 415, "unsupported_media_type")


async def test_configured_origins_replace_those_of_the_hosts(
    engine: DurableEngine, database_url: str
) -> None:
    app = service(engine, database_url, KEYS, allowed_origins=["https://*.app.example"])
    async with client_for(app) as client:
        for origin, status in [
            ("https://web.app.example", 200),
            ("http://web.app.example", 403),  # another scheme, another origin
            ("https://web.app.example:8443", 403),
            ("http://localhost:3000", 403),  # no longer allowed by default
            ("http://127.0.0.1:8000", 200),  # the request's own host always is
        ]:
            answer = await client.post(
                "/v1/agents/Echo/runs", json={"input": "hi"}, headers={"Origin": origin}
            )
            assert answer.status_code == status, (origin, answer.text)


async def test_a_live_server_on_loopback_refuses_a_foreign_host(live_url: str) -> None:
    async with httpx.AsyncClient(
        base_url=live_url, headers={"Authorization": "Bearer key-acme"}
    ) as client:
        assert (await client.get("/v1/agents")).status_code == 200
        refused(await client.get("/v1/agents", headers={"Host": ATTACKER}), 421, "host_not_allowed")


async def test_bad_patterns_are_refused(engine: DurableEngine, database_url: str) -> None:
    with pytest.raises(UserError, match="not a host pattern"):
        service(engine, database_url, KEYS, allowed_hosts=["https://agents.example.com"])
    with pytest.raises(UserError, match="not an origin"):
        service(engine, database_url, KEYS, allowed_origins=["agents.example.com"])
    with pytest.raises(UserError, match="allowed hosts are empty"):
        service(engine, database_url, KEYS, allowed_hosts=[" "])


async def test_serve_passes_allowed_hosts_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from .served_agents import create_agents

    app = resolve_app(create_agents(), allowed_hosts=["agents.example.com"])
    assert app.state.ascent.config.allowed_hosts == ("agents.example.com",)

    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.delenv("ASCENT_API_KEYS", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a file adds its folder
    agents = f"{Path(__file__).with_name('served_agents.py')}:create_agents"
    arguments = ["serve", agents, "--allowed-host", "a.example", "--allowed-host", "*.b.example"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert served[0].state.ascent.config.allowed_hosts == ("a.example", "*.b.example")

    ready = resolve_app(lambda: FastAPI())
    with pytest.raises(UserError, match="--allowed-host applies to agents"):
        resolve_app(lambda: ready, allowed_hosts=["a.example"])
