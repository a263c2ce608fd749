"""API keys and tenants: nobody without a key, and no tenant ever sees another's data."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ascent.durable import DurableEngine
from ascent.server import create_app
from ascent.tracing import flush_traces

from .conftest import serving

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/agents"),
        ("POST", "/v1/agents/Shop/runs"),
        ("GET", "/v1/runs/x"),
        ("POST", "/v1/runs/x/approvals"),
        ("POST", "/v1/runs/x/cancel"),
        ("GET", "/v1/runs/x/events"),
        ("GET", "/v1/sessions/s/items"),
        ("DELETE", "/v1/sessions/s"),
        ("GET", "/v1/traces/x"),
    ],
)
@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_every_api_call_needs_a_valid_key(
    app: FastAPI, method: str, path: str, key: str | None
) -> None:
    async with serving(app, key=key) as client:
        response = await client.request(method, path, json={"input": "hi"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "unauthorized"


async def test_a_key_in_another_scheme_is_refused(app: FastAPI) -> None:
    async with serving(app, key=None) as client:
        response = await client.get("/v1/agents", headers={"Authorization": "Basic key-acme"})
    assert response.status_code == 401


async def test_probes_need_no_key(app: FastAPI) -> None:
    async with serving(app, key=None) as client:
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_another_tenants_run_is_not_found(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient
) -> None:
    run = (await acme.post("/v1/agents/Shop/runs", json={"input": "Refund order A-1042"})).json()
    assert run["status"] == "awaiting_approval"
    call_id = run["pending_approvals"][0]["call_id"]
    decision = {"decisions": [{"call_id": call_id, "approved": True}]}
    for response in (
        await globex.get(f"/v1/runs/{run['id']}"),
        await globex.post(f"/v1/runs/{run['id']}/approvals", json=decision),
        await globex.post(f"/v1/runs/{run['id']}/cancel"),
        await globex.get(f"/v1/runs/{run['id']}/events"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "run_not_found"
    # untouched by the attempts: still waiting, and its owner can finish it
    assert (await acme.get(f"/v1/runs/{run['id']}")).json()["status"] == "awaiting_approval"
    done = await acme.post(f"/v1/runs/{run['id']}/approvals", json=decision)
    assert done.json()["status"] == "completed"


async def test_tenants_sessions_are_separate_even_with_one_name(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient
) -> None:
    await acme.delete("/v1/sessions/shared")
    await globex.delete("/v1/sessions/shared")
    await acme.post(
        "/v1/agents/Echo/runs", json={"input": "acme's secret plan", "session_id": "shared"}
    )
    assert (await globex.get("/v1/sessions/shared/items")).json()["items"] == []
    await globex.post(
        "/v1/agents/Echo/runs", json={"input": "globex says hi", "session_id": "shared"}
    )
    mine = (await acme.get("/v1/sessions/shared/items")).json()["items"]
    theirs = (await globex.get("/v1/sessions/shared/items")).json()["items"]
    assert mine[0]["content"] == "acme's secret plan" and len(mine) == 2
    assert theirs[0]["content"] == "globex says hi" and len(theirs) == 2
    assert (await globex.delete("/v1/sessions/shared")).status_code == 204
    assert len((await acme.get("/v1/sessions/shared/items")).json()["items"]) == 2


async def test_another_tenants_trace_is_not_found(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient
) -> None:
    run = (await acme.post("/v1/agents/Echo/runs", json={"input": "hello"})).json()
    flush_traces()
    assert (await acme.get(f"/v1/traces/{run['trace_id']}")).status_code == 200
    response = await globex.get(f"/v1/traces/{run['trace_id']}")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "trace_not_found"


async def test_without_keys_everyone_is_one_anonymous_tenant(
    engine: DurableEngine, database_url: str, acme: httpx.AsyncClient
) -> None:
    open_app = create_app(engine=engine, database_url=database_url, api_keys={})
    async with serving(open_app, key=None) as anonymous:
        run = (await anonymous.post("/v1/agents/Echo/runs", json={"input": "hello"})).json()
        assert run["tenant"] is None and run["status"] == "completed"
        assert (await anonymous.get(f"/v1/runs/{run['id']}")).status_code == 200
        acme_run = (await acme.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
        assert (await anonymous.get(f"/v1/runs/{acme_run['id']}")).status_code == 404
        # and a key-holding tenant cannot read the anonymous run either
        assert (await acme.get(f"/v1/runs/{run['id']}")).status_code == 404


async def test_api_keys_are_read_from_the_environment(
    engine: DurableEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASCENT_API_KEYS", "env-key:initech")
    app = create_app(engine=engine)
    async with serving(app, key="env-key") as client:
        run = (await client.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
        assert run["tenant"] == "initech"
    async with serving(app, key="key-acme") as client:
        assert (await client.get("/v1/agents")).status_code == 401
