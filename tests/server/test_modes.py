"""The service serves runs the same in each durability: a request's ``durability`` field.

Streams, approvals and reads look the same whether a run records every step
(``steps``) or only its checkpoints (``run``), on one replica and across two.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ascent.testing.postgres import PostgresServer

from .conftest import refund_across, sse_events
from .conftest import replicas as serving_replicas

ASYNC = pytest.mark.asyncio(loop_scope="package")
HEADERS = {"Authorization": "Bearer key-acme"}


def _shape(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a client sees of a stream, but ids and times: each event's type and id."""
    return [(str(e["event"]), str(e.get("id", ""))) for e in events[:-1]]


async def _stream(client: httpx.AsyncClient, text: str, durability: str) -> list[dict[str, Any]]:
    response = await client.post(
        "/v1/agents/Shop/runs", json={"input": text, "stream": True, "durability": durability}
    )
    assert response.status_code == 200, response.text
    return sse_events(response.text)


@ASYNC
async def test_a_streamed_run_is_the_same_in_both_durabilities(acme: httpx.AsyncClient) -> None:
    steps = await _stream(acme, "What is the status of order A-1042?", "steps")
    run = await _stream(acme, "What is the status of order A-1042?", "run")
    assert _shape(steps) == _shape(run)
    assert steps[-1]["data"]["output"] == run[-1]["data"]["output"]
    assert run[-1]["data"]["status"] == "completed"
    deltas = [e["data"]["data"]["delta"] for e in run if e["event"] == "text_delta"]
    assert "".join(deltas) == "Here is what I found: order_status: order A-1042 shipped Monday"


@ASYNC
async def test_a_run_mode_stream_stops_at_an_approval_and_resumes_after_it(
    acme: httpx.AsyncClient,
) -> None:
    events = await _stream(acme, "Refund order A-1042", "run")
    assert events[-2]["event"] == "approval_required"
    final = events[-1]["data"]
    assert final["status"] == "awaiting_approval"
    last = int(str(events[-2]["id"]))
    call_id = final["pending_approvals"][0]["call_id"]
    decided = await acme.post(
        f"/v1/runs/{final['id']}/approvals",
        json={"decisions": [{"call_id": call_id, "approved": True}]},
    )
    assert decided.json()["status"] == "completed"
    assert decided.json()["output"] == "Here is what I found: refund: refunded A-1042"
    rest = sse_events(
        (
            await acme.get(f"/v1/runs/{final['id']}/events", headers={"Last-Event-ID": str(last)})
        ).text
    )
    assert [int(str(e["id"])) for e in rest[:-1]] == list(range(last + 1, last + len(rest)))
    assert rest[0]["event"] == "run_resumed" and rest[-2]["event"] == "run_completed"


@ASYNC
async def test_an_unknown_durability_is_422(acme: httpx.AsyncClient) -> None:
    response = await acme.post("/v1/agents/Shop/runs", json={"input": "hi", "durability": "fast"})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"


@pytest.fixture(scope="module")
def replicas(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    url = postgres_server.create_database(f"modes_{uuid.uuid4().hex[:12]}")
    with serving_replicas(url, "replica-a", "replica-b") as (a, b):
        yield a, b


def test_a_run_mode_run_paused_on_one_replica_is_approved_and_streamed_on_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        refund_across(client, a, b, {"input": "Refund order A-1042", "durability": "run"})
