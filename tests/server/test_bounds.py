"""What the database cannot hold is a 422 at validation, never a 500 or a stream cut mid-body.

Each test runs against the service on SQLite (in-process) and on PostgreSQL (an
``ascent serve`` process), whose limits differ: a 32-bit ``seq`` column, no NUL
in text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ascent.durable import MAX_EVENT_SEQ
from ascent.testing.postgres import PostgresServer

from .conftest import replicas, serving, sse_events

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest.fixture(scope="module")
def postgres_service(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database(f"bounds_{uuid.uuid4().hex[:12]}")
    with replicas(url, "bounds") as (base,):
        yield base


@pytest_asyncio.fixture(loop_scope="package", params=["sqlite", "postgresql"])
async def client(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "sqlite":
        async with serving(app) as client:
            yield client
        return
    base = request.getfixturevalue("postgres_service")
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": "Bearer key-acme"}, timeout=30
    ) as client:
        yield client


def invalid(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["type"] == "invalid_request"
    message: str = body["error"]["message"]
    return message


async def test_an_event_position_beyond_the_log_is_refused_before_the_stream(
    client: httpx.AsyncClient,
) -> None:
    run = (await client.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
    events = f"/v1/runs/{run['id']}/events"
    for position in (MAX_EVENT_SEQ + 1, 2**63, 2**64):
        invalid(await client.get(events, params={"after": position}))
        invalid(await client.get(events, headers={"Last-Event-ID": str(position)}))
    last = await client.get(events, params={"after": MAX_EVENT_SEQ})
    assert last.status_code == 200
    assert [event["event"] for event in sse_events(last.text)] == ["run"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"input": "\\ud800"}',
        b'{"input": "fine \\udfff"}',
        b'{"input": [{"role": "user", "content": "\\ud800"}]}',
        b'{"input": [{"role": "user", "content": [{"type": "input_text", "text": "\\udc00"}]}]}',
        b'{"input": [{"role": "user", "content": "hi", "\\ud800": 1}]}',
    ],
)
async def test_a_lone_surrogate_is_refused(client: httpx.AsyncClient, body: bytes) -> None:
    message = invalid(
        await client.post(
            "/v1/agents/Echo/runs", content=body, headers={"Content-Type": "application/json"}
        )
    )
    assert "surrogate" in message


async def test_a_surrogate_pair_is_a_character_like_any_other(client: httpx.AsyncClient) -> None:
    body = b'{"input": "say \\ud83d\\ude00"}'  # U+1F600, escaped as JSON escapes it
    answer = await client.post(
        "/v1/agents/Echo/runs", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"


@pytest.mark.parametrize("control", ["%00", "%01", "%1F", "%7F", "%C2%85"])
async def test_ids_with_control_characters_are_refused(
    client: httpx.AsyncClient, control: str
) -> None:
    bad = f"run{control}id"
    invalid(await client.get(f"/v1/runs/{bad}"))
    invalid(await client.post(f"/v1/runs/{bad}/cancel"))
    invalid(await client.get(f"/v1/runs/{bad}/events"))
    decision = {"decisions": [{"call_id": "c", "approved": True}]}
    invalid(await client.post(f"/v1/runs/{bad}/approvals", json=decision))
    invalid(await client.post(f"/v1/agents/Ec{control}ho/runs", json={"input": "hi"}))
    invalid(await client.get(f"/v1/sessions/{bad}/items"))
    invalid(await client.delete(f"/v1/sessions/{bad}"))
    invalid(await client.get(f"/v1/traces/{bad}"))


async def test_a_call_id_with_a_nul_is_refused(client: httpx.AsyncClient) -> None:
    run = (await client.post("/v1/agents/Shop/runs", json={"input": "Refund order A-1042"})).json()
    assert run["status"] == "awaiting_approval"
    decision = {"decisions": [{"call_id": "call\x00id", "approved": True}]}
    invalid(await client.post(f"/v1/runs/{run['id']}/approvals", json=decision))
